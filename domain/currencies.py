"""ISO 4217 active currency codes and their minor units (digits after the decimal point)."""

from __future__ import annotations

from domain.errors import UnknownCurrency

_TWO = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP BYN BZD "
    "CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD "
    "GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD "
    "MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP "
    "PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS "
    "TMT TOP TRY TTD TWD TZS UAH USD UYU UZS VES WST XCD YER ZAR ZMW ZWG"
)
_ZERO = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_THREE = "BHD IQD JOD KWD LYD OMR TND"
_FOUR = "CLF UYW"

MINOR_UNITS: dict[str, int] = {
    **dict.fromkeys(_TWO.split(), 2),
    **dict.fromkeys(_ZERO.split(), 0),
    **dict.fromkeys(_THREE.split(), 3),
    **dict.fromkeys(_FOUR.split(), 4),
}


def currency_code(code: str) -> str:
    """Return the upper-cased ISO 4217 code, or raise UnknownCurrency (about ``currency``)."""
    if code in MINOR_UNITS:  # already a code (every stored event's): nothing to normalise
        return code
    normalised = code.strip().upper() if isinstance(code, str) else ""
    if normalised not in MINOR_UNITS:
        raise UnknownCurrency(
            f"unknown currency code {code!r} (expected ISO 4217, e.g. GBP)", field="currency"
        )
    return normalised


def minor_units(currency: str) -> int:
    return MINOR_UNITS[currency_code(currency)]
