"""Response pieces every answer shares: which model served it (point in time) and how typical its inputs
were. One definition, so the OpenAPI schema names them the same way in every route."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ServedModel(BaseModel):
    """The registered model version that computed (part of) an answer, and what data it was fitted on."""

    model_config = ConfigDict(extra="allow")
    name: str
    version: int
    refit_date: str | None = Field(
        ..., description="Data up to the end of this date (the refit calendar's last date on or before "
                         "the answer's as-of date) is all the model was fitted on.")
    trained_through: str | None = Field(..., description="The last bar of its training data.")
    vintage: bool = Field(..., description="True: a point-in-time refit for a past date, not the promoted "
                                           "model fitted on everything.")


class Typicality(BaseModel):
    """How far the answer's inputs are from the rows the model was trained on."""

    model_config = ConfigDict(extra="allow")
    percentile: float = Field(..., description="Share (0-100) of training rows closer to the rest than "
                                               "these inputs are to the training rows.")
    unusual: bool = Field(..., description="Far outside the training data: confidence was lowered.")
    note: str
