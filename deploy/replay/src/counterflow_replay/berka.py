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
        loans: ``loan_id, account_id, date, amount, ...`` (``date`` a ``datetime.date``).
        cards: ``card_id, disp_id, type, issued`` (``issued`` a ``datetime.date``).
        districts: ``district_id, name, region`` (``district.asc`` A1, A2, A3).
    """

    accounts: pd.DataFrame
    clients: pd.DataFrame
    disps: pd.DataFrame
    orders: pd.DataFrame
    trans: pd.DataFrame
    source: Path
    loans: pd.DataFrame | None = None
    cards: pd.DataFrame | None = None
    districts: pd.DataFrame | None = None


def _read(folder: Path, name: str, **kw: object) -> pd.DataFrame:
    path = folder / f"{name}.asc"
    if not path.is_file():
        raise FileNotFoundError(f"PKDD'99 file {path} is missing (point --data at the folder holding account.asc, trans.asc, ...)")
    return pd.read_csv(path, sep=";", **kw)  # type: ignore[arg-type]


def _yymmdd(col: pd.Series) -> pd.Series:
    return pd.to_datetime(col.astype(str).str.slice(0, 6), format="%y%m%d").dt.date


def load_book(folder: Path) -> Book:
    """Read account, client, disp, order, trans, loan, card and district from ``folder``.

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
    loans = _read(folder, "loan")
    loans["date"] = _yymmdd(loans["date"])
    cards = _read(folder, "card")
    cards["issued"] = _yymmdd(cards["issued"])
    districts = _read(folder, "district").rename(columns={"A1": "district_id", "A2": "name", "A3": "region"})[["district_id", "name", "region"]]
    for frame, cols in ((trans, ("k_symbol", "bank", "account", "operation")), (orders, ("k_symbol", "bank_to", "account_to"))):
        for c in cols:
            frame[c] = frame[c].fillna("").str.strip()
    return Book(accounts=accounts, clients=clients, disps=disps, orders=orders, trans=trans, source=folder, loans=loans, cards=cards, districts=districts)


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


def _visit_frame(t: pd.DataFrame, amount: object) -> pd.DataFrame:
    """The visit columns (platform ids) of rows with ``trans_id, date, account_id,
    client_id, district_id, service_type``; ``amount`` a column or one value."""
    return pd.DataFrame(
        {
            "trans_id": t["trans_id"].astype(int),
            "date": t["date"],
            "account_id": t["account_id"].astype(int),
            "customer_id": ["C%d" % c for c in t["client_id"].astype(int)],
            "branch_id": ["D%d" % d for d in t["district_id"].astype(int)],
            "service_type": t["service_type"],
            "amount": amount,
        }
    )


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
    out = _visit_frame(t, [format(Decimal(f"{a:.2f}"), "f") for a in t["amount"]])
    return out.sort_values("trans_id").reset_index(drop=True)


def open_accounts_per_branch(book: Book, on: date) -> pd.Series:
    """Accounts open on ``on`` per ``branch_id`` (PKDD'99 accounts open progressively)."""
    a = book.accounts[book.accounts["date"] <= on]
    return a.groupby(a["district_id"].map(lambda d: f"D{d}")).size()


#: Non-divertible counter business PKDD'99 records WITH A DATE, and the visit it becomes.
#: Each is work only a person at a counter could do in 1993 (identity check, contract,
#: signature), so no rule may divert it:
#:
#: - ``account.asc`` ``date`` (account opened): an ``account_opening`` visit of the OWNER;
#: - ``loan.asc`` ``date`` (loan granted): a ``loan_consultation`` visit of the OWNER (the
#:   signing of the contract);
#: - ``card.asc`` ``issued``: a ``card_services`` visit of the card's disponent (handing
#:   over the card).
#:
#: ``disp.asc`` (a new disponent on an account) carries no date, so it cannot be placed on
#: a day and is left out; ``order.asc`` (standing orders) has no date either.
NON_DIVERTIBLE_SOURCES = {"account_opening": "account.asc", "loan_consultation": "loan.asc", "card_services": "card.asc"}


def _owners(book: Book) -> pd.DataFrame:
    return book.disps[book.disps["type"] == "OWNER"][["account_id", "client_id"]]


def non_divertible_visits(book: Book, *, first: date | None = None, last: date | None = None) -> pd.DataFrame:
    """The dated non-divertible counter business of ``first..last`` (see
    :data:`NON_DIVERTIBLE_SOURCES`), in the columns of :func:`counter_visits`.

    ``trans_id`` is negative and unique per source (``-(1e6 * k + row id)``) so the visit
    ids never clash with transactions; ``amount`` is ``"0"`` (no cash moves).
    """
    frames = []

    def within(col: pd.Series) -> pd.Series:
        ok = pd.Series(True, index=col.index)
        if first is not None:
            ok &= col >= first
        if last is not None:
            ok &= col <= last
        return ok

    a = book.accounts[within(book.accounts["date"])]
    a = a.merge(_owners(book), on="account_id")
    frames.append(pd.DataFrame({"trans_id": -(1_000_000 + a["account_id"].astype(int)), "date": a["date"], "account_id": a["account_id"], "client_id": a["client_id"], "service_type": "account_opening"}))
    if book.loans is not None:
        ln = book.loans[within(book.loans["date"])].merge(_owners(book), on="account_id")
        frames.append(pd.DataFrame({"trans_id": -(2_000_000 + ln["loan_id"].astype(int)), "date": ln["date"], "account_id": ln["account_id"], "client_id": ln["client_id"], "service_type": "loan_consultation"}))
    if book.cards is not None:
        c = book.cards[within(book.cards["issued"])].merge(book.disps[["disp_id", "client_id", "account_id"]], on="disp_id")
        frames.append(pd.DataFrame({"trans_id": -(3_000_000 + c["card_id"].astype(int)), "date": c["issued"], "account_id": c["account_id"], "client_id": c["client_id"], "service_type": "card_services"}))
    t = pd.concat(frames, ignore_index=True)
    t = t.merge(book.accounts[["account_id", "district_id"]], on="account_id", how="left")
    return _visit_frame(t, "0").sort_values("trans_id").reset_index(drop=True)


#: Age from which a customer counts as ``elderly``: 65, the threshold of Eurostat's
#: old-age dependency ratio ("persons aged 65 and over") and of the UN's "older persons"
#: statistics. Applied to the age on the replayed day.
ELDERLY_AGE = 65


def birth_date(birth_number: str) -> date:
    """Birth date from a PKDD'99 ``birth_number`` ``YYMMDD`` (women have month + 50;
    every client was born in the 1900s).

    Raises:
        ValueError: not a valid date.
    """
    s = str(birth_number).strip().zfill(6)
    yy, mm, dd = int(s[:2]), int(s[2:4]), int(s[4:6])
    return date(1900 + yy, mm - 50 if mm > 50 else mm, dd)


def age_on(birth: date, on: date) -> int:
    """Completed years of age on ``on``."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def elderly_customers(book: Book, on: date, threshold: int = ELDERLY_AGE) -> set[str]:
    """``customer_id`` of the clients aged ``threshold`` or more on ``on``."""
    return {f"C{c}" for c, b in zip(book.clients["client_id"], book.clients["birth_number"]) if age_on(birth_date(b), on) >= threshold}


def district_names(book: Book) -> dict[str, str]:
    """``branch_id`` -> district name (``district.asc`` A2), e.g. ``D1`` -> ``Hl.m. Praha``."""
    if book.districts is None:
        return {}
    return {f"D{int(d)}": str(n) for d, n in zip(book.districts["district_id"], book.districts["name"])}


def last_complete_month(book: Book) -> tuple[date, date]:
    """The default replay window: the last calendar month of ``trans.asc`` whose every
    day lies within the file's dates (the busiest in the 1993 file too, as accounts open
    progressively: December 1993).

    Raises:
        ValueError: the file spans no complete calendar month.
    """
    first, last = min(book.trans["date"]), max(book.trans["date"])
    y, m = last.year, last.month
    while True:
        start = date(y, m, 1)
        end = (date(y + (m == 12), m % 12 + 1, 1)) - pd.Timedelta(days=1).to_pytimedelta()
        if start >= first and end <= last:
            return start, end
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
        if date(y, m, 1) < first:
            raise ValueError(f"trans.asc ({first}..{last}) holds no complete calendar month")
