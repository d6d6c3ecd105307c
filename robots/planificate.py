"""Planifícate robot: the pre-analysis of a line (PROCESS.md activity 2), with its screenshot as evidence.

The result is data, not a decision: ``verdict`` names the branch of activity 2 that the data points to,
and the flow decides what to do with it. "No result" and a blocked line are answers, never retried.
"""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, Field, computed_field

from pages.planificate import PlanificatePage
from robots.base import ConsoleRobot, LineRequest
from robots.evidence import Evidence


class PreanalysisVerdict(str, Enum):
    """Which branch of activity 2 the result leads to."""

    ELIGIBLE = "eligible"  # AC and USIM LTE -> 3
    NO_RESULT = "no_result"  # 2.5 a: policy "Sin requisitos sin subsidio" -> 3
    BLOCKED_FR_RO = "blocked_fr_ro"  # 2.5 b
    OTHER_OPERATOR = "other_operator"  # 2.5 c
    SIM_3G = "sim_3g"  # 2.5 d
    DEBT_MP = "debt_mp"  # 2.5 e
    UNCOVERED = "uncovered"  # found, but neither AC with USIM LTE nor a branch of 2.5: a person decides


class PreanalysisRequest(LineRequest):
    """Run Planifícate on this line."""


class PreanalysisResult(BaseModel):
    line: str
    found: bool
    state: str | None = None
    sim: str | None = None
    operator: str | None = None
    recommended_plans: list[str] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def verdict(self) -> PreanalysisVerdict:
        if not self.found:
            return PreanalysisVerdict.NO_RESULT
        if self.operator and self.operator != "Propia":
            return PreanalysisVerdict.OTHER_OPERATOR
        if self.state in ("FR", "RO"):
            return PreanalysisVerdict.BLOCKED_FR_RO
        if self.state == "MP":
            return PreanalysisVerdict.DEBT_MP
        if self.sim == "3G":
            return PreanalysisVerdict.SIM_3G
        if self.state == "AC" and "LTE" in (self.sim or "").upper():
            return PreanalysisVerdict.ELIGIBLE
        return PreanalysisVerdict.UNCOVERED

    def summary(self) -> str:
        if not self.found:
            return "Planifícate: sin resultados para la línea (política 'Sin requisitos sin subsidio')"
        plans = ", ".join(self.recommended_plans) or "-"
        return (
            f"Planifícate: estado {self.state}, SIM {self.sim}, operador {self.operator}, planes recomendados: {plans}"
        )


class PlanificateRobot(ConsoleRobot[PlanificatePage]):
    """Runs pre-analyses in Planifícate."""

    def preanalysis(self, request: PreanalysisRequest) -> PreanalysisResult:
        """Search the line, read the result, and screenshot it whatever it says (PROCESS.md 2.3)."""

        async def work(console: PlanificatePage) -> tuple[dict[str, str] | None, bytes]:
            await console.search(request.line)
            fields = await console.read_result()
            return fields, await console.screenshot()

        fields, shot = self._run(work)
        result = PreanalysisResult(line=request.line, found=fields is not None)
        if fields is not None:
            plans = fields.get("Planes recomendados", "")
            result = PreanalysisResult(
                line=request.line,
                found=True,
                state=_dash_none(fields.get("Estado de la línea")),
                sim=_dash_none(fields.get("Tipo de SIM")),
                operator=_dash_none(fields.get("Operador")),
                recommended_plans=[p.strip() for p in plans.split(",") if p.strip() not in ("", "-")],
            )
        result.evidence.append(
            Evidence.capture(
                portal=self.portal,
                step="preanalysis",
                content=shot,
                description=f"Preanálisis Planifícate de la línea {request.line}",
            )
        )
        return result


def _dash_none(value: str | None) -> str | None:
    return None if value in (None, "", "-") else value
