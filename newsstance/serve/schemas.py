"""Request and response bodies, as pydantic models: they check types and shape the OpenAPI docs.

Unknown fields are refused (a typo such as `text` for `texts` would otherwise pass silently).
Limits (how many texts, how long) depend on the settings and are checked by the app.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ClassifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"texts": ["The ministry said it would appeal the ruling.", "Critics called the plan unworkable."]}]})

    texts: list[str] = Field(description="the sentences to label, in order")
    context: list[str | None] | None = Field(
        None, description="the sentence before each text in its article (null for none); used when the model was "
                          "trained with it")
    headline: list[str | None] | None = Field(
        None, description="each text's article headline (null for none); used when the model was trained with it")


class PredictionOut(BaseModel):
    label: str = Field(description="the most probable label")
    score: float = Field(description="its calibrated probability")
    scores: dict[str, float] = Field(description="all three calibrated probabilities")
    uncertain: bool = Field(description="score under the model's min_confidence")


class ClassifyResponse(BaseModel):
    predictions: list[PredictionOut] = Field(description="one per text, in the order of `texts`")


class AnalyzeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"title": "Court blocks new rules", "text": "The ministry said it would appeal. Critics doubt it will win."}]})

    text: str = Field(description="the article text; it is split into sentences")
    title: str | None = Field(None, description="the headline; prepended when the text does not start with it")


class SentenceOut(PredictionOut):
    index: int
    start: int = Field(description="character offset of the sentence in the (title + text) article")
    end: int
    text: str


class AnalyzeResponse(BaseModel):
    sentences: list[SentenceOut]
    summary: dict = Field(description="counts and shares per label, where skepticism first appears")


class ErrorOut(BaseModel):
    error: str = Field(description="a short code, e.g. invalid_json, text_too_long, queue_full")
    detail: str = Field(description="what is wrong, naming the field, and how to fix it")
    field: str | None = None
    request_id: str | None = Field(None, description="with 500 errors: the id under which the error is logged")
