"""The PKDD'99 "financial" book (Berka and Sochorová, PKDD'99 Discovery Challenge) and the
counter visits it implies.

Files are read from ``../shared/data/berka`` (semicolon-separated, quoted strings, ``.``
decimals, dates ``YYMMDD``); nothing is copied into the repository.

Identifiers follow the scoring service's import: a branch is the district of the account
(``branch_id = "D<district_id>"``), a customer is a client (``customer_id = "C<client_id>"``);
a transaction belongs to the account's OWNER (``disp.type == "OWNER"``).

Which transactions needed a branch in 1993 (``trans.operation`` / ``k_symbol`` codes of
``data_description.pdf``; the reasoning is in docs/replay.md):

===========================  ==========================  ===============================
code                         counter visit?              service type
===========================  ==========================  ===============================
VKLAD                        yes: a cash deposit          ``cash_deposit``
VYBER, k_symbol empty        yes: a cash withdrawal       ``cash_withdrawal``
VYBER, k_symbol SIPO         yes: cash for a household    ``bill_payment``
                             bill paid at the counter
VYBER, SLUZBY / SANKC. UROK  no: statement fee and        -
                             sanction interest the bank
                             books itself
PREVOD NA UCET               no: every one in 1993 matches -
                             a standing order of
                             order.asc (checked in code)
PREVOD Z UCTU, empty (UROK)  no: credits from other       -
                             banks and interest
VYBER KARTOU                 no: a card at an ATM (none   -
                             in 1993)
===========================  ==========================  ===============================
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd

#: Currency of every PKDD'99 amount (the bank is Czech; amounts are in CZK).
CURRENCY = "CZK"


@dataclass(frozen=True)
class Book:
    """The PKDD'99 tables the replay needs, as pandas frames with the files' column names.

    Attributes:
        accounts: ``account_id, district_id, frequency, date`` (``date`` a ``datetime.date``).
        clients: ``client_id, birth_number, district_id``.
        disps: ``disp_id, client_id, account_id, type``.
        orders: ``order_id, account_id, bank_to, account_to, amount, k_symbol``.
        trans: ``trans_id, account_id, date, type, operation, amount, balance, k_symbol,
            bank, account`` (``date`` a ``datetime.date``; ``amount`` a float here, turned
            into :class:`~decimal.Decimal` only when it leaves this module).
        source: the folder read.
    """

    accounts: pd.DataFrame
    clients: pd.DataFrame
    disps: pd.DataFrame
    orders: pd.DataFrame
    trans: pd.DataFrame
    source: Path


def _read(folder: Path, name: str, **kw: object) -> pd.DataFrame:
    path = folder / f"{name}.asc"
    if not path.is_file():
        raise FileNotFoundError(f"PKDD'99 file {path} is missing (point --data at the folder holding account.asc, trans.asc, ...)")
    return pd.read_csv(path, sep=";", **kw)  # type: ignore[arg-type]


def _yymmdd(col: pd.Series) -> pd.Series:
    return pd.to_datetime(col.astype(str).str.slice(0, 6), format="%y%m%d").dt.date


def load_book(folder: Path) -> Book:
    """Read account, client, disp, order and trans from ``folder``.

    Raises:
        FileNotFoundError: a file is missing (the message names it).
    """
    text = {"k_symbol": str, "bank": str, "account": str, "operation": str, "bank_to": str, "account_to": str}
    accounts = _read(folder, "account")
    accounts["date"] = _yymmdd(accounts["date"])
    clients = _read(folder, "client", dtype={"birth_number": str})
    disps = _read(folder, "disp")
    orders = _read(folder, "order", dtype=text)
    trans = _read(folder, "trans", dtype=text)
    trans["date"] = _yymmdd(trans["date"])
    for frame, cols in ((trans, ("k_symbol", "bank", "account", "operation")), (orders, ("k_symbol", "bank_to", "account_to"))):
        for c in cols:
            frame[c] = frame[c].fillna("").str.strip()
    return Book(accounts=accounts, clients=clients, disps=disps, orders=orders, trans=trans, source=folder)


def standing_order_share(book: Book) -> float:
    """Share (0..1) of remittances (``PREVOD NA UCET``) whose (account, bank, counter-account)
    matches a standing order of ``order.asc``: executed by the bank, so not counter visits."""
    remit = book.trans[book.trans["operation"] == "PREVOD NA UCET"]
    if remit.empty:
        return 1.0
    keys = set(zip(book.orders["account_id"], book.orders["bank_to"], book.orders["account_to"]))
    matched = sum((a, b, c) in keys for a, b, c in zip(remit["account_id"], remit["bank"], remit["account"]))
    return matched / len(remit)


def classify(operation: str, k_symbol: str) -> str | None:
    """Service type of a transaction that needed a counter, ``None`` when it did not
    (see the module table)."""
    if operation == "VKLAD":
        return "cash_deposit"
    if operation == "VYBER":
        if k_symbol == "":
            return "cash_withdrawal"
        if k_symbol == "SIPO":
            return "bill_payment"
    return None


def counter_visits(book: Book, *, first: date | None = None, last: date | None = None) -> pd.DataFrame:
    """The counter visits of the book between ``first`` and ``last`` (inclusive).

    Returns:
        A frame sorted by ``trans_id`` with ``trans_id, date, account_id, customer_id,
        branch_id, service_type, amount`` (``amount`` a CZK decimal string, major units).
    """
    t = book.trans
    if first is not None:
        t = t[t["date"] >= first]
    if last is not None:
        t = t[t["date"] <= last]
    kinds = [classify(o, k) for o, k in zip(t["operation"], t["k_symbol"])]
    t = t.assign(service_type=kinds).dropna(subset=["service_type"])
    owners = book.disps[book.disps["type"] == "OWNER"][["account_id", "client_id"]]
    t = t.merge(owners, on="account_id", how="left").merge(book.accounts[["account_id", "district_id"]], on="account_id", how="left")
    out = pd.DataFrame(
        {
            "trans_id": t["trans_id"].astype(int),
            "date": t["date"],
            "account_id": t["account_id"].astype(int),
            "customer_id": ["C%d" % c for c in t["client_id"].astype(int)],
            "branch_id": ["D%d" % d for d in t["district_id"].astype(int)],
            "service_type": t["service_type"],
            "amount": [format(Decimal(f"{a:.2f}"), "f") for a in t["amount"]],
        }
    )
    return out.sort_values("trans_id").reset_index(drop=True)


def open_accounts_per_branch(book: Book, on: date) -> pd.Series:
    """Accounts open on ``on`` per ``branch_id`` (PKDD'99 accounts open progressively)."""
    a = book.accounts[book.accounts["date"] <= on]
    return a.groupby(a["district_id"].map(lambda d: f"D{d}")).size()
