"""What the public API answers: response models, which also make its OpenAPI document.

Only what the public pages already show: no address, no pending signature, no draft."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

PublicStatus = Literal["open", "closed", "delivered"]


class LetterItem(BaseModel):
    slug: str = Field(description="The letter's address: /letters/{slug}.")
    title: str
    summary: str
    url: str = Field(description="The letter's page.")
    languages: list[str] = Field(description="Languages the letter can be read in (BCP 47).")
    status: PublicStatus
    accepting: bool = Field(description="Whether it accepts signatures now.")
    signatures: int = Field(description="Confirmed signatures that count.")
    goal: int | None
    published_at: datetime | None
    closes_at: datetime | None = Field(description="When it stops accepting signatures.")


class LetterList(BaseModel):
    letters: list[LetterItem] = Field(description="Open letters first, then closed ones.")


class Recipient(BaseModel):
    name: str
    title: str
    organisation: str
    country: str = Field(description="ISO 3166-1 alpha-2 code, or empty.")


class FirstSignatory(BaseModel):
    name: str
    description: str


class Delivery(BaseModel):
    delivered_on: date
    recipient: str
    method: str


class CountryCount(BaseModel):
    country: str = Field(description="ISO 3166-1 alpha-2 code.")
    signatures: int


class ByCountry(BaseModel):
    minimum: int = Field(description="Countries with fewer signatures than this are left out.")
    countries: list[CountryCount] = Field(description="Most signatures first.")
    note: str


class DayCount(BaseModel):
    day: date = Field(description="A calendar day, UTC.")
    signatures: int = Field(description="Signatures confirmed that day that still count.")


class LetterDetail(LetterItem):
    updated_at: datetime | None = Field(description="When the count last changed.")
    recipients: list[Recipient] = Field(description="In order. Postal addresses are not public.")
    first_signatories: list[FirstSignatory]
    publisher_name: str
    deliveries: list[Delivery]
    by_country: ByCountry
    per_day: list[DayCount] = Field(
        description="Each day since publication, at most the last 60, oldest first."
    )


class Signer(BaseModel):
    name: str
    affiliation: str
    city: str
    country: str
    confirmed_at: datetime | None


class SignerPage(BaseModel):
    signers: list[Signer] = Field(
        description="Signers who chose to be named publicly, in the order they confirmed."
    )
    next_cursor: str | None = Field(
        description="Pass as ?cursor= for the next page; null at the end."
    )
    next: str | None = Field(description="The next page's path, or null at the end.")


class ApiError(BaseModel):
    error: str
