"""The routes: accounts and their transactions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bank.errors import BankError, not_found
from bank.models import Account, Transaction
from bank.schemas import AccountDetail, AccountIn, AccountOut, TransactionIn, TransactionOut

router = APIRouter()


async def session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessions() as s:
        yield s


Session = Annotated[AsyncSession, Depends(session)]
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0)]


async def _account(db: AsyncSession, account_id: int) -> Account:
    account = await db.get(Account, account_id)
    if account is None:
        raise not_found(account_id)
    return account


async def _detail(db: AsyncSession, account: Account) -> AccountDetail:
    total = func.coalesce(func.sum(Transaction.credit - Transaction.debit), 0)
    balance = await db.scalar(select(total).where(Transaction.acc_id == account.id))
    return AccountDetail(**AccountOut.model_validate(account).model_dump(), balance=balance or 0)


@router.post("/accounts", status_code=201)
async def create_account(body: AccountIn, db: Session) -> AccountDetail:
    account = Account(**body.model_dump())
    db.add(account)
    await db.commit()
    return AccountDetail(**AccountOut.model_validate(account).model_dump(), balance=0)


@router.get("/accounts")
async def list_accounts(db: Session, limit: Limit = 100, offset: Offset = 0) -> list[AccountOut]:
    rows = await db.scalars(select(Account).order_by(Account.id).limit(limit).offset(offset))
    return [AccountOut.model_validate(a) for a in rows]


@router.get("/accounts/{account_id}")
async def read_account(account_id: int, db: Session) -> AccountDetail:
    return await _detail(db, await _account(db, account_id))


@router.put("/accounts/{account_id}")
async def update_account(account_id: int, body: AccountIn, db: Session) -> AccountDetail:
    account = await _account(db, account_id)
    for name, value in body.model_dump().items():
        setattr(account, name, value)
    await db.commit()
    return await _detail(db, account)


@router.delete("/accounts/{account_id}", status_code=204)
async def delete_account(account_id: int, db: Session) -> Response:
    """Refused (409) while the account has transactions: its history is kept."""
    account = await _account(db, account_id)
    count = await db.scalar(
        select(func.count()).select_from(Transaction).where(Transaction.acc_id == account_id)
    )
    if count:
        raise BankError(
            409, "account_has_transactions", f"account {account_id} has {count} transactions"
        )
    await db.delete(account)
    await db.commit()
    return Response(status_code=204)


@router.post("/accounts/{account_id}/transactions", status_code=201)
async def create_transaction(account_id: int, body: TransactionIn, db: Session) -> TransactionOut:
    await _account(db, account_id)
    transaction = Transaction(acc_id=account_id, **body.model_dump())
    db.add(transaction)
    await db.commit()
    return TransactionOut.model_validate(transaction)


@router.get("/accounts/{account_id}/transactions")
async def list_transactions(
    account_id: int, db: Session, limit: Limit = 100, offset: Offset = 0
) -> list[TransactionOut]:
    await _account(db, account_id)
    query = select(Transaction).where(Transaction.acc_id == account_id)
    rows = await db.scalars(query.order_by(Transaction.id).limit(limit).offset(offset))
    return [TransactionOut.model_validate(t) for t in rows]
