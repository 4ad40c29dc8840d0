"""PAdES signatures of our PDFs with the seller's certificate (pyhanko).

Configured by environment (docs/pdf.md, "Signing"):

- ``TOLLBOOK_SIGNING_PKCS12``: a PKCS#12 file (key and certificate), or
- ``TOLLBOOK_SIGNING_KEY`` and ``TOLLBOOK_SIGNING_CERT``: PEM files;
- ``TOLLBOOK_SIGNING_PASSPHRASE``: the passphrase of either, when it has one (kept out of
  the command line and of files beside the key).

A signature is an incremental update: the signed file is the unsigned PDF's bytes, unchanged,
followed by the signature. The signing time is the ledger's clock (injected, so tests pin it),
and the file identifier's second half is derived from the signed bytes and that time, not
drawn at random: the same PDF signed with the same key at the same moment gives the same
bytes (RSA PKCS#1 v1.5 signatures are deterministic; an ECDSA key's are not).
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers

from adapters.config_error import ConfigError

FIELD_NAME = "SellerSignature"
_ENV = ("TOLLBOOK_SIGNING_PKCS12", "TOLLBOOK_SIGNING_KEY", "TOLLBOOK_SIGNING_CERT")


@dataclass(frozen=True, slots=True)
class SigningConfig:
    pkcs12: Path | None = None
    key: Path | None = None
    cert: Path | None = None
    passphrase: bytes | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SigningConfig | None:
        """The configured key, or None when no signing key is configured."""
        env = os.environ if environ is None else environ
        pkcs12, key, cert = (env.get(name, "").strip() for name in _ENV)
        if not (pkcs12 or key or cert):
            return None
        if pkcs12 and (key or cert):
            raise ConfigError(
                "set either TOLLBOOK_SIGNING_PKCS12 or TOLLBOOK_SIGNING_KEY with"
                " TOLLBOOK_SIGNING_CERT, not both"
            )
        if not pkcs12 and not (key and cert):
            raise ConfigError("TOLLBOOK_SIGNING_KEY and TOLLBOOK_SIGNING_CERT go together")
        for name, value in zip(_ENV, (pkcs12, key, cert), strict=True):
            if value and not Path(value).is_file():
                raise ConfigError(f"{name}: {value} is not a readable file")
        passphrase = env.get("TOLLBOOK_SIGNING_PASSPHRASE")
        return cls(
            pkcs12=Path(pkcs12) if pkcs12 else None,
            key=Path(key) if key else None,
            cert=Path(cert) if cert else None,
            passphrase=passphrase.encode() if passphrase else None,
        )

    def signer(self) -> signers.SimpleSigner:
        """The key and certificate, loaded; a wrong passphrase or file is a ConfigError."""
        try:
            if self.pkcs12 is not None:
                loaded = signers.SimpleSigner.load_pkcs12(  # type: ignore[no-untyped-call]
                    str(self.pkcs12), passphrase=self.passphrase
                )
            else:
                loaded = signers.SimpleSigner.load(  # type: ignore[no-untyped-call]
                    str(self.key), str(self.cert), key_passphrase=self.passphrase
                )
        except (OSError, ValueError, TypeError) as error:
            loaded = None
            reason = str(error)
        else:
            reason = "wrong passphrase (TOLLBOOK_SIGNING_PASSPHRASE) or not a key and certificate"
        if loaded is None:
            where = self.pkcs12 or self.key
            raise ConfigError(f"cannot load the signing key {where}: {reason}")
        assert isinstance(loaded, signers.SimpleSigner)
        return loaded

    def certificate(self) -> bytes:
        """The signer's certificate (DER), to recognise it in a signed file."""
        cert = self.signer().signing_cert
        assert cert is not None
        return bytes(cert.dump())


class _DerivedIdWriter(IncrementalPdfFileWriter):
    """pyhanko's incremental writer with the file identifier's second half derived from the
    document (its first half is the original's, as ISO 32000 wants) instead of random, and
    the document's metadata left as it is: pyhanko would stamp the machine's clock into the
    Info and XMP modification dates and rewrite the XMP packet (renaming the Factur-X
    extension's ``fx`` prefix); the signature is an appended update that adds, changes
    nothing of the document."""

    derived: bytes = b""

    def _update_meta(self) -> None:
        return None

    @classmethod
    def _handle_id(cls, prev: Any) -> generic.ArrayObject:
        ids = super()._handle_id(prev)  # type: ignore[no-untyped-call]
        return generic.ArrayObject([ids[0], generic.ByteStringObject(cls.derived)])


class _ClockedSigner(signers.PdfSigner):
    """A PdfSigner whose signing time is given (the ledger's clock), not read from the
    machine's."""

    def __init__(self, meta: signers.PdfSignatureMetadata, signer: signers.Signer, at: datetime):
        super().__init__(meta, signer=signer)
        self.at = at

    def init_signing_session(self, pdf_out: Any, existing_fields_only: bool = False) -> Any:
        session = super().init_signing_session(pdf_out, existing_fields_only)
        session.system_time = self.at
        return session


def sign(pdf: bytes, signer: signers.Signer, at: datetime) -> bytes:
    """``pdf`` with a PAdES baseline signature (B-B) of ``signer`` made at ``at``."""
    seed = hashlib.sha256(pdf + at.isoformat().encode()).digest()[:16]
    writer_class = type("_Writer", (_DerivedIdWriter,), {"derived": seed})
    writer = writer_class(io.BytesIO(pdf))
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        reason="Issued by the seller",
    )
    out = io.BytesIO()
    _ClockedSigner(meta, signer, at).sign_pdf(writer, output=out)
    return out.getvalue()


@lru_cache(maxsize=4)
def _loaded(config: SigningConfig) -> signers.SimpleSigner:
    """A configured key, loaded once per process (a long-running service signs every download
    with it; reading and decrypting a PKCS#12 file per request would cost ~10 ms each)."""
    return config.signer()


def configured_signer(environ: Mapping[str, str] | None = None) -> signers.Signer | None:
    """The seller's signer when ``TOLLBOOK_SIGNING_*`` configures one, else None; a broken
    configuration is a ConfigError naming the variable."""
    config = SigningConfig.from_env(environ)
    return None if config is None else _loaded(config)


def sign_if_configured(pdf: bytes, at: datetime) -> bytes:
    """``pdf`` PAdES-signed at ``at`` with the configured key; unchanged when none is."""
    signer = configured_signer()
    return pdf if signer is None else sign(pdf, signer, at)
