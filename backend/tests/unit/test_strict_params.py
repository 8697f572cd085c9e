"""New jobs' params are refused for fields their type's model does not have, unless the model says otherwise."""

from __future__ import annotations

import pydantic
import pytest
from app.worker.dispatcher import strict_params


class Plain(pydantic.BaseModel):
    seconds: float = 1.0

    @pydantic.field_validator("seconds")
    @classmethod
    def _positive(cls, v: float) -> float:
        if v < 0:
            raise ValueError("must be positive")
        return v


class Dropping(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="ignore")
    seconds: float = 1.0


class Taking(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="allow")


def test_a_model_that_says_nothing_refuses_other_fields_and_keeps_its_validators() -> None:
    strict = strict_params(Plain)
    with pytest.raises(pydantic.ValidationError) as refused:
        strict.model_validate({"second": 2})
    assert refused.value.errors()[0]["loc"] == ("second",)
    assert refused.value.errors()[0]["type"] == "extra_forbidden"
    with pytest.raises(pydantic.ValidationError):
        strict.model_validate({"seconds": -1})  # the model's own validator still runs
    ok = strict.model_validate({"seconds": 2})
    assert isinstance(ok, Plain)
    assert ok.seconds == 2
    assert strict.model_json_schema()["additionalProperties"] is False
    assert Plain.model_validate({"seconds": 2, "old": 1}).seconds == 2  # the model itself, as jobs run, is unchanged


def test_a_model_that_says_what_it_does_with_other_fields_is_taken_as_it_is() -> None:
    assert strict_params(Dropping) is Dropping
    assert strict_params(Taking) is Taking
