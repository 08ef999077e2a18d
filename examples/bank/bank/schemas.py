"""What the API reads and answers (pydantic v2)."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Address = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Amount = Annotated[int, Field(ge=0, le=1_000_000_000)]


class AccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_name: Name
    last_name: Name
    address: Address


class AccountOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    first_name: str
    last_name: str
    address: str


class AccountDetail(AccountOut):
    balance: int
    """The sum of the account's credits less the sum of its debits."""


class TransactionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    credit: Amount = 0
    debit: Amount = 0

    @model_validator(mode="after")
    def not_both_zero(self) -> Self:
        if self.credit == 0 and self.debit == 0:
            raise ValueError("a transaction credits or debits something: not both zero")
        return self


class TransactionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    acc_id: int
    credit: int
    debit: int
