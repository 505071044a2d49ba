"""Contribution score: how much a customer brings to the bank, as an explainable
weighted scorecard over the PKDD'99 book.

Method. Each factor below is a customer feature (money in CZK, log-compressed with
``log1p`` because balances and volumes are heavy-tailed); it is standardised over the
book (z-score, clipped to ±4 so that one outlier cannot dominate) and weighted. The
score is ``100 * Σ weight_f * z_f``: 0 is the average customer of the book, +100 one
standard deviation of weighted evidence above it. A factor that is unknown for a
customer (no transactions in the 1993 file, customer only seen in live events)
contributes 0, i.e. the book average, and is reported as unknown. The explanation of
a customer is exactly the list of ``100 * weight_f * z_f`` terms, which add up to the
score. This is the points-based linear scorecard of credit scoring (Siddiqi, *Credit
Risk Scorecards*, Wiley 2006, ch. 6), applied to customer value drivers in retail
banking (balances, product holding, activity, tenure: Kumar and Reinartz, *Customer
Relationship Management*, Springer 2018, ch. 5).

The weights are expert weights, not fitted: PKDD'99 has no profitability label. They are
the single place to change when a bank has its own contribution figures (then fit them
by regressing the bank's contribution on the z-scores).

Statistics run on float64 (numpy/pandas); money that goes on the wire stays Decimal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

#: Card grades (PKDD'99 ``card.type``): a gold card is a premium product.
CARD_GRADE = {"junior": 1.0, "classic": 2.0, "gold": 3.0}
#: Loan status codes (data_description.pdf): A finished OK, B finished unpaid,
#: C running OK, D running with the client in debt.
GOOD_LOAN = ("A", "C")
BAD_LOAN = ("B", "D")
#: Standing-order purposes that are products sold by the bank (insurance, leasing).
PRODUCT_ORDER_SYMBOLS = ("POJISTNE", "LEASING")
#: Transaction operations by channel (``trans.operation``): a card withdrawal is an ATM
#: use; cash credits (``VKLAD``) and cash withdrawals (``VYBER``) happen at the counter,
#: except the ``VYBER`` rows the bank books itself (``k_symbol`` SLUZBY = statement fee,
#: SANKC. UROK = sanction interest), as the replay reads them (docs/replay.md).
SELF_SERVICE_OPERATIONS = ("VYBER KARTOU",)
COUNTER_OPERATIONS = ("VYBER", "VKLAD")
BANK_BOOKED_SYMBOLS = ("SLUZBY", "SANKC. UROK")
#: Clip of the standardised factors (standard deviations).
Z_CLIP = 4.0
#: Added to the average balance when turning the balance slope into a relative trend,
#: so that tiny balances do not produce huge trends (CZK).
TREND_FLOOR_CZK = 1000.0


@dataclass(frozen=True)
class Factor:
    """One scorecard factor: feature column, weight (score points per standard deviation
    / 100), unit of the raw feature and what it means."""

    name: str
    weight: float
    unit: str
    meaning: str


FACTORS: tuple[Factor, ...] = (
    Factor("balance", 0.28, "log(1+CZK)", "average month-end balance over the accounts the customer may operate"),
    Factor("balance_trend", 0.05, "share of average balance per month", "least-squares slope of month-end balances"),
    Factor("turnover", 0.15, "log(1+CZK per month)", "credits plus debits per month since the first transaction"),
    Factor("standing_orders", 0.07, "log(1+CZK per month)", "monthly amount paid by standing orders"),
    Factor("products", 0.10, "count", "accounts, cards, loans, insurance and leasing orders held"),
    Factor("loan_principal", 0.12, "log(1+CZK)", "principal of loans in good standing (status A or C)"),
    Factor("loan_in_arrears", -0.12, "0/1", "a loan finished unpaid or running in debt (status B or D)"),
    Factor("card", 0.08, "grade 0-3", "best card held: none 0, junior 1, classic 2, gold 3"),
    Factor("tenure", 0.05, "years", "years since the customer's first account was opened"),
    Factor("regional_salary", 0.02, "log ratio", "average salary of the branch district against the mean of districts"),
)
WEIGHTS = pd.Series({f.name: f.weight for f in FACTORS})
MODEL_VERSION = "contribution-scorecard-1"


@dataclass
class Book:
    """The imported book as data frames (columns as in the tables of the same name;
    amounts as float64 CZK, dates as ``datetime64``)."""

    districts: pd.DataFrame
    accounts: pd.DataFrame
    clients: pd.DataFrame
    dispositions: pd.DataFrame
    standing_orders: pd.DataFrame
    loans: pd.DataFrame
    cards: pd.DataFrame
    transactions: pd.DataFrame

    def as_of(self) -> date:
        """Latest date present in the book (reference date of tenure and age)."""
        candidates = [
            self.accounts["opened_on"].max(),
            self.loans["granted_on"].max() if len(self.loans) else None,
            self.cards["issued_on"].max() if len(self.cards) else None,
            self.transactions["booked_on"].max() if len(self.transactions) else None,
        ]
        known = [pd.Timestamp(c) for c in candidates if c is not None and not pd.isna(c)]
        return max(known).date() if known else date.today()


def _month_index(dates: pd.Series) -> np.ndarray:
    d = pd.to_datetime(dates)
    return (d.dt.year * 12 + d.dt.month - 1).to_numpy()


def account_activity(transactions: pd.DataFrame) -> pd.DataFrame:
    """Per account: average month-end balance (CZK), its relative trend (share of the
    average per month), turnover (CZK per month) and counter / self-service uses.

    Months after the first transaction without a transaction carry the last balance
    forward; months before it are not counted. Accounts without transactions are absent.
    """
    if transactions.empty:
        return pd.DataFrame(columns=["avg_balance", "balance_trend", "turnover", "self_service_uses", "counter_uses"])
    t = transactions.sort_values(["account_id", "booked_on", "trans_id"], kind="mergesort").copy()
    t["month"] = _month_index(t["booked_on"])
    month_end = t.groupby(["account_id", "month"])["balance"].last().unstack("month").sort_index(axis=1)
    month_end = month_end.reindex(columns=range(int(month_end.columns.min()), int(month_end.columns.max()) + 1)).ffill(axis=1)
    values = month_end.to_numpy(dtype=float)
    valid = ~np.isnan(values)
    n = valid.sum(axis=1)
    months = np.broadcast_to(np.arange(values.shape[1], dtype=float), values.shape)
    filled = np.where(valid, values, 0.0)
    mean_b = filled.sum(axis=1) / n
    mean_m = np.where(valid, months, 0.0).sum(axis=1) / n
    dm = np.where(valid, months - mean_m[:, None], 0.0)
    db = np.where(valid, values - mean_b[:, None], 0.0)
    var_m = (dm * dm).sum(axis=1)
    slope = np.divide((dm * db).sum(axis=1), var_m, out=np.full_like(var_m, np.nan), where=var_m > 0)
    trend = slope / (np.abs(mean_b) + TREND_FLOOR_CZK)
    volume = t.groupby("account_id")["amount"].apply(lambda a: np.abs(a.to_numpy(dtype=float)).sum())
    out = pd.DataFrame({"avg_balance": mean_b, "balance_trend": trend}, index=month_end.index)
    out["turnover"] = volume / n
    ops = t["operation"].fillna("")
    out["self_service_uses"] = t[ops.isin(SELF_SERVICE_OPERATIONS)].groupby("account_id").size().reindex(out.index, fill_value=0)
    at_counter = ops.isin(COUNTER_OPERATIONS) & ~t["k_symbol"].fillna("").str.strip().isin(BANK_BOOKED_SYMBOLS)
    out["counter_uses"] = t[at_counter].groupby("account_id").size().reindex(out.index, fill_value=0)
    return out


def customer_features(book: Book, as_of: date) -> pd.DataFrame:
    """Raw features per imported customer (index ``customer_id``): the factor columns of
    :data:`FACTORS` plus ``home_branch_id``, ``age_years``, ``has_card``, ``has_loan``,
    ``self_service_uses`` and ``counter_uses`` (from the 1993 transactions).

    A client's features sum over every account the client may operate (owner or
    disponent: PKDD'99 disponents are household members sharing the account). The home
    branch is the district of the client's owned account (lowest id if several).
    """
    disp = book.dispositions.merge(book.clients[["client_id", "customer_id", "birth_date"]], on="client_id")
    disp = disp.merge(book.accounts[["account_id", "branch_id", "opened_on", "district_id"]], on="account_id")
    activity = account_activity(book.transactions)
    orders = book.standing_orders
    per_account = pd.DataFrame(index=book.accounts.set_index("account_id").index)
    per_account = per_account.join(activity, how="left")
    per_account["standing_orders"] = orders.groupby("account_id")["amount"].sum().reindex(per_account.index, fill_value=0.0)
    per_account["product_orders"] = orders[orders["k_symbol"].isin(PRODUCT_ORDER_SYMBOLS)].groupby("account_id").size().reindex(per_account.index, fill_value=0)
    loans = book.loans
    per_account["good_loans"] = loans[loans["status"].isin(GOOD_LOAN)].groupby("account_id")["amount"].sum().reindex(per_account.index, fill_value=0.0)
    per_account["bad_loans"] = loans[loans["status"].isin(BAD_LOAN)].groupby("account_id").size().reindex(per_account.index, fill_value=0)
    per_account["loans"] = loans.groupby("account_id").size().reindex(per_account.index, fill_value=0)

    d = disp.join(per_account, on="account_id")
    cards = book.cards.merge(book.dispositions[["disp_id", "client_id"]], on="disp_id").merge(book.clients[["client_id", "customer_id"]], on="client_id")
    card_grade = cards["type"].map(CARD_GRADE).groupby(cards["customer_id"]).max()
    card_count = cards.groupby("customer_id").size()

    g = d.groupby("customer_id")
    has_activity = g["avg_balance"].count() > 0
    f = pd.DataFrame(index=book.clients.set_index("customer_id").index)
    f["balance"] = np.log1p(g["avg_balance"].sum(min_count=1).clip(lower=0)).where(has_activity)
    f["balance_trend"] = g["balance_trend"].mean()
    f["turnover"] = np.log1p(g["turnover"].sum(min_count=1)).where(has_activity)
    f["standing_orders"] = np.log1p(g["standing_orders"].sum())
    f["loan_principal"] = np.log1p(g["good_loans"].sum())
    f["loan_in_arrears"] = (g["bad_loans"].sum() > 0).astype(float)
    f["card"] = card_grade.reindex(f.index).fillna(0.0)
    f["products"] = g.size() + card_count.reindex(f.index).fillna(0) + g["loans"].sum() + g["product_orders"].sum()
    as_of_ts = pd.Timestamp(as_of)
    f["tenure"] = (as_of_ts - pd.to_datetime(g["opened_on"].min())).dt.days / 365.25

    owners = d[d["type"] == "OWNER"].sort_values("account_id").groupby("customer_id").first()
    anyacc = d.sort_values("account_id").groupby("customer_id").first()
    home = owners["branch_id"].reindex(f.index).fillna(anyacc["branch_id"].reindex(f.index))
    home_district = owners["district_id"].reindex(f.index).fillna(anyacc["district_id"].reindex(f.index))
    salary = book.districts.set_index("district_id")["average_salary"].astype(float)
    f["regional_salary"] = np.log(home_district.map(salary) / salary.mean())

    births = book.clients.set_index("customer_id")["birth_date"]
    f["home_branch_id"] = home
    f["age_years"] = ((as_of_ts - pd.to_datetime(births)).dt.days / 365.25).reindex(f.index)
    f["has_card"] = (f["card"] > 0).astype(float)
    f["has_loan"] = (g["loans"].sum() > 0).astype(float)
    f["self_service_uses"] = g["self_service_uses"].sum().reindex(f.index).fillna(0.0)
    f["counter_uses"] = g["counter_uses"].sum().reindex(f.index).fillna(0.0)
    return f


def standardise(features: pd.DataFrame) -> pd.DataFrame:
    """z-scores of the factor columns over the rows given (NaN -> 0, clipped to ±:data:`Z_CLIP`).

    A column that does not vary (standard deviation 0) gets z = 0.
    """
    x = features[[f.name for f in FACTORS]].astype(float)
    mean = x.mean()
    std = x.std(ddof=0).replace(0.0, np.nan)
    z = ((x - mean) / std).clip(-Z_CLIP, Z_CLIP)
    return z.fillna(0.0)


def score_book(features: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame]:
    """Score every customer of ``features`` (rows: customers, factor columns as from
    :func:`customer_features`; missing values allowed).

    Returns:
        ``(score, contributions)``: score points per customer and the per-factor points
        (columns = factor names) that sum to it.
    """
    contributions = 100.0 * standardise(features) * WEIGHTS
    return contributions.sum(axis=1), contributions


def factor_points(contributions: Mapping[str, float], features: Mapping[str, float]) -> dict[str, dict[str, float | None]]:
    """What is stored of one customer's explanation: factor name -> raw ``value``
    (``None`` when unknown) and ``points`` (factor name -> points and factor name -> raw
    value given as dicts or Series)."""
    out: dict[str, dict[str, float | None]] = {}
    for f in FACTORS:
        value = features.get(f.name)
        known = value is not None and not pd.isna(value)
        out[f.name] = {"value": round(float(value), 6) if known else None, "points": round(float(contributions[f.name]), 3)}
    return out


def explanation(stored: Mapping[str, Mapping[str, float | None]]) -> list[dict]:
    """The explanation of one customer from :func:`factor_points`: each factor with its
    raw value, unit, meaning, weight and points, largest absolute contribution first.
    Factors missing from ``stored`` (a newer scorecard) are left out."""
    items = [
        {"factor": f.name, "value": stored[f.name]["value"], "unit": f.unit, "meaning": f.meaning, "weight": f.weight, "points": stored[f.name]["points"]}
        for f in FACTORS
        if f.name in stored
    ]
    return sorted(items, key=lambda i: -abs(i["points"]))


#: Columns of each book table (empty tables still get their columns).
BOOK_COLUMNS: dict[str, tuple[str, ...]] = {
    "districts": ("district_id", "name", "region", "inhabitants", "average_salary"),
    "accounts": ("account_id", "district_id", "branch_id", "frequency", "opened_on"),
    "clients": ("client_id", "customer_id", "birth_date", "sex", "district_id"),
    "dispositions": ("disp_id", "client_id", "account_id", "type"),
    "standing_orders": ("order_id", "account_id", "amount", "k_symbol"),
    "loans": ("loan_id", "account_id", "granted_on", "amount", "status"),
    "cards": ("card_id", "disp_id", "type", "issued_on"),
    "transactions": ("trans_id", "account_id", "booked_on", "type", "operation", "amount", "balance", "k_symbol"),
}
_MONEY_COLUMNS = {"amount", "balance", "average_salary"}
_DATE_COLUMNS = {"opened_on", "birth_date", "granted_on", "issued_on", "booked_on"}


def book_from_records(records: dict[str, list[dict]]) -> Book:
    """Build a :class:`Book` from row dicts per table (as stored or as read from the
    files): Decimal amounts become float64 CZK, dates ``datetime64``."""
    frames = {}
    for name, columns in BOOK_COLUMNS.items():
        frame = pd.DataFrame.from_records(records.get(name, []), columns=list(columns))
        for column in columns:
            if column in _MONEY_COLUMNS:
                frame[column] = pd.to_numeric(frame[column].astype(object).map(lambda v: None if v is None else float(v)), errors="coerce")
            elif column in _DATE_COLUMNS:
                frame[column] = pd.to_datetime(frame[column])
        frames[name] = frame
    return Book(**frames)
