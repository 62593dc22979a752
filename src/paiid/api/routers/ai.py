"""Endpoints under /api/ai (filled in by their issues)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["ai"])
