"""What a request may put in a parameter that reaches the state store.

PostgreSQL refuses a NUL character in text, and its integer columns refuse numbers
beyond a signed 64-bit integer: a query with either failed in the database (503, as if
the store were down). They are refused when the request is read instead: 422, naming
the parameter. Every string that is looked up in the state store (a pipeline, a status,
a run id, in a path, a query or a form) is one of these types.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Path, Query

#: no NUL character (PostgreSQL text cannot hold one)
NO_NUL = r"^[^\x00]*$"
#: the largest integer a parameter may be (a signed 64-bit integer)
MAX_INT = 2**63 - 1
#: the longest name or id taken (names and ids in the state store are shorter)
MAX_NAME = 255

#: a pipeline, a status, a run id in a query string (absent: None)
QueryName = Annotated[str | None, Query(max_length=MAX_NAME, pattern=NO_NUL)]
#: a run id or a pipeline name in the path
PathName = Annotated[str, Path(max_length=MAX_NAME, pattern=NO_NUL)]
#: a pipeline name in a form
FormName = Annotated[str | None, Form(max_length=MAX_NAME, pattern=NO_NUL)]
#: an event id to read after
After = Annotated[int | None, Query(ge=0, le=MAX_INT, description="an event id: events after it")]
