"""Tax-registry robot (padrón NIT): is the entity a customer wants to be billed to a government one?

PROCESS.md 1 a: when the invoices are to go to an institution that is not a commercial company, or to a
public entity, the agent asks for its NIT and checks it in the tax service's registry; a government
entity is derived to Syshelp (1 b), anything else follows the normal process (1 d). This module holds
both halves: ``billing_needs_government_check`` (does this billing name call for the check at all?) and
``TaxRegistryRobot.lookup_nit`` (what the registry says, with its screenshot). "NIT inexistente" is an
answer (``found=False``), not an error.
"""

from __future__ import annotations

import re
import unicodedata
from enum import Enum

from pydantic import BaseModel, Field, computed_field, field_validator

from pages.errors import RuleRefused
from pages.impuestos import TaxRegistryPage
from robots.base import ConsoleRobot
from robots.evidence import Evidence
from robots.identity import normal_nit


class TaxpayerKind(str, Enum):
    """What kind of taxpayer the registry says a NIT is."""

    GOVERNMENT = "government"  # ENTIDAD PÚBLICA / GUBERNAMENTAL
    COMMERCIAL = "commercial"  # EMPRESA COMERCIAL (S.R.L., S.A., LTDA., unipersonal)
    OTHER = "other"  # PERSONA NATURAL, associations, foundations...


def kind_of(label: str) -> TaxpayerKind:
    """The registry's "Tipo de contribuyente" text as a kind."""
    text = _plain(label)
    if "GUBERNAMENTAL" in text or "PUBLICA" in text:
        return TaxpayerKind.GOVERNMENT
    if "COMERCIAL" in text or "EMPRESA" in text:
        return TaxpayerKind.COMMERCIAL
    return TaxpayerKind.OTHER


class NitRequest(BaseModel):
    """Look this NIT up in the registry."""

    nit: str

    @field_validator("nit")
    @classmethod
    def _nit(cls, value: str) -> str:
        # InvalidInput, not ValueError: a bad NIT is a business error wherever the request is built.
        return normal_nit(value)


class TaxpayerLookup(BaseModel):
    """What the registry says about a NIT."""

    nit: str
    found: bool
    name: str | None = None
    kind: TaxpayerKind | None = None
    kind_label: str | None = Field(None, description="the registry's own words for the kind")
    status: str | None = None
    evidence: list[Evidence] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def is_government(self) -> bool:
        """Whether PROCESS.md 1 b applies: derive to the government executives."""
        return self.kind is TaxpayerKind.GOVERNMENT

    def summary(self) -> str:
        if not self.found:
            return f"Padrón de Impuestos: NIT {self.nit} inexistente"
        return f"Padrón de Impuestos: NIT {self.nit} - {self.name} - {self.kind_label} - {self.status}"


class TaxRegistryRobot(ConsoleRobot[TaxRegistryPage]):
    """Looks NITs up in the tax service's registry."""

    def lookup_nit(self, request: NitRequest) -> TaxpayerLookup:
        """The registry's answer about a NIT, with its screenshot whatever it says."""

        async def work(console: TaxRegistryPage) -> tuple[dict[str, str] | None, str, str, bytes]:
            await console.search(request.nit)
            fields = await console.read_taxpayer()
            status, alert = ("", "") if fields else (await console.status_text(), await console.alert_text())
            return fields, status, alert, await console.screenshot()

        fields, status, alert, shot = self._run(work)
        if fields is None:
            # "NIT inexistente" is the registry's status line; anything it refuses comes as an alert.
            if "NIT inexistente" not in status:
                raise RuleRefused(
                    alert or status or "the registry refused the NIT without a message", portal=self.portal
                )
            result = TaxpayerLookup(nit=request.nit, found=False)
            description = f"Padrón de Impuestos: NIT {request.nit} inexistente"
        else:
            label = fields.get("Tipo de contribuyente", "")
            result = TaxpayerLookup(
                nit=fields.get("NIT", request.nit),
                found=True,
                name=fields.get("Razón social"),
                kind=kind_of(label),
                kind_label=label,
                status=fields.get("Estado"),
            )
            description = f"Padrón de Impuestos: NIT {request.nit} de {result.name}, {label}, estado {result.status}"
        result.evidence.append(
            Evidence.capture(portal=self.portal, step="nit-lookup", content=shot, description=description)
        )
        return result


# -- which billing names call for the check (PROCESS.md 1) -----------------------------------------
_PUBLIC = re.compile(
    r"\b("
    r"GOBERNACION|ALCALDIA|MINISTERIO|VICEMINISTERIO|GOBIERNO (AUTONOMO|MUNICIPAL|DEPARTAMENTAL)"
    r"|ESTADO PLURINACIONAL|MUNICIPIO|MUNICIPALIDAD|CONCEJO MUNICIPAL|ASAMBLEA LEGISLATIVA"
    r"|TRIBUNAL|ORGANO (JUDICIAL|ELECTORAL|LEGISLATIVO|EJECUTIVO)|CONTRALORIA|PROCURADURIA"
    r"|DEFENSORIA DEL PUEBLO|FISCALIA|POLICIA BOLIVIANA|FUERZAS ARMADAS|EJERCITO DE BOLIVIA"
    r"|EMPRESA (ESTATAL|PUBLICA)|SERVICIO (NACIONAL|DEPARTAMENTAL|ESTATAL)|INSTITUTO NACIONAL"
    r"|AUTORIDAD DE|AGENCIA ESTATAL|CAJA NACIONAL DE SALUD|UNIVERSIDAD MAYOR|UNIVERSIDAD PUBLICA"
    r"|DIRECCION DEPARTAMENTAL|SEDES|SEDUCA"
    r")\b"
)
_GOVERNMENT_DOMAIN = re.compile(r"\.GOB\.BO\b")
# Matched on the name without dots, so "S.R.L.", "S. R. L." and "SRL" all read the same.
_COMMERCIAL = re.compile(r"\b(S ?R ?L|S ?A|LTDA|LIMITADA|SOCIEDAD ANONIMA|SOCIEDAD DE RESPONSABILIDAD LIMITADA)\b")


def _plain(text: str) -> str:
    """Upper case without accents, spaces collapsed."""
    plain = unicodedata.normalize("NFKD", str(text or "")).encode("ascii", "ignore").decode().upper()
    return " ".join(plain.split())


def billing_needs_government_check(name: str) -> bool:
    """Whether a billing name calls for the NIT check of PROCESS.md 1 a (then maybe Syshelp, 1 b).

    Call it only when the invoices are NOT to go in the holder's own name: a person's name alone (the
    holder's) is not an institution, and telling names of people from names of institutions is not
    something a rule can do well.

    The choice, in order:

    1. A name that looks public is checked: Gobernación, Alcaldía, Ministerio, Gobierno Autónomo, and the
       like, or an e-mail/web address under ``.gob.bo`` (state institutions use that domain). This wins
       over a company suffix, because state companies can be S.A.
    2. A commercial company (S.R.L., S.A., LTDA, written with or without dots) is not checked: the
       normal process goes on (1 d).
    3. Anything else is checked. A third-party billing name that is not a commercial company is taken to
       be an institution, as the source asks; a wrong "yes" costs one registry lookup (which answers
       "PERSONA NATURAL" for a private person, and the process goes on normally), a wrong "no" would send a
       government entity down the normal path, which the source forbids.
    """
    plain = _plain(name)
    if not plain:
        return False
    if _GOVERNMENT_DOMAIN.search(plain) or _PUBLIC.search(plain):
        return True
    return not _COMMERCIAL.search(" ".join(re.sub(r"[.,]", " ", plain).split()))
