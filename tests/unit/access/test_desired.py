"""Reading the desired table: CSV/NDJSON files (binary or text), rows, SQL rows; every malformed input
gets an error saying what to fix."""

from __future__ import annotations

import io
import json

import pytest

from airflow_provider_genesys.access.desired import format_of, read_file, read_rows, read_sql
from airflow_provider_genesys.access.errors import DesiredTableError, GenesysAccessError
from airflow_provider_genesys.exceptions import GenesysCloudError


def rows_of(data: bytes | str, fmt: str = "csv", rel: str = "grants", **kwargs):
    file = io.BytesIO(data) if isinstance(data, bytes) else io.StringIO(data)
    return list(read_file(file, rel, fmt, **kwargs))


def test_csv_rows_are_numbered_from_one_and_default_the_subject_type():
    rows = rows_of(b"subject,role,division\nann@example.com,Supervisor,Sales\nbob@example.com,Employee,*\n")
    assert [r.number for r in rows] == [1, 2]
    assert rows[0].values == {"subject": "ann@example.com", "role": "Supervisor", "division": "Sales",
                              "subject_type": "user"}
    assert rows[1]["division"] == "*"


@pytest.mark.parametrize("data", [
    "\ufeffsubject,role,division\r\nann@example.com,Supervisor,Sales\r\n".encode(),
    "\ufeffsubject,role,division\r\nann@example.com,Supervisor,Sales\r\n",
    b"Subject , ROLE,division,comment\r\n ann@example.com , Supervisor ,Sales,extra column ignored\r\n\r\n",
])
def test_byte_order_mark_windows_line_endings_case_and_spaces_are_tolerated(data):
    (row,) = rows_of(data)
    assert (row["subject"], row["role"], row["division"]) == ("ann@example.com", "Supervisor", "Sales")


def test_quoted_values_with_commas_and_newlines():
    (row,) = rows_of(b'subject,role,division\nann@example.com,"Supervisor, EMEA","Sales\nWest"\n')
    assert row["role"] == "Supervisor, EMEA"
    assert row["division"] == "Sales\nWest"


def test_missing_column_names_the_missing_and_the_present_columns():
    with pytest.raises(DesiredTableError) as caught:
        rows_of(b"subject,divison\nann@example.com,Sales\n")
    message = str(caught.value)
    assert "lacks the column(s) role, division" in message
    assert "it has: subject, divison" in message
    assert "optional: subject_type" in message


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\n\n"])
def test_an_empty_file_is_refused(data):
    with pytest.raises(DesiredTableError, match="empty: its first line must name the columns"):
        rows_of(data)


def test_a_header_without_rows_is_refused_unless_allowed():
    with pytest.raises(DesiredTableError, match=r"no rows.*allow_empty=True"):
        rows_of(b"subject,role,division\n")
    assert rows_of(b"subject,role,division\n", allow_empty=True) == []


def test_blank_values_are_empty_strings_and_blank_lines_are_skipped():
    rows = rows_of(b"subject,role,division,subject_type\nann@example.com,,Sales,\n,,,\n\nbob@example.com,Employee\n")
    assert [r.number for r in rows] == [1, 2]
    assert rows[0]["role"] == ""
    assert rows[0]["subject_type"] == "user"
    assert rows[1]["division"] == ""  # a short row: the resolver reports the blank


def test_a_row_with_more_cells_than_columns_says_to_quote():
    with pytest.raises(DesiredTableError, match=r"Row 1 .* 4 cells .* quote values"):
        rows_of(b"subject,role,division\nann@example.com,Supervisor,Sales,West\n")


def test_a_column_named_twice_is_refused():
    with pytest.raises(DesiredTableError, match="'role' twice"):
        rows_of(b"subject,role,role,division\n")


def test_invalid_utf8_is_an_error_not_garbage():
    with pytest.raises(UnicodeDecodeError):
        rows_of(b"subject,role,division\n\xff\xfe,Supervisor,Sales\n")


def test_ndjson_rows_from_binary_with_bom_and_blank_lines():
    data = "\ufeff" + json.dumps({"subject": "ann@example.com", "role": "Supervisor", "division": "Sales"})
    data += "\r\n\r\n" + json.dumps({"subject": "g", "subject_type": "group", "role": 7, "division": None}) + "\n"
    rows = rows_of(data.encode(), "ndjson")
    assert [r.number for r in rows] == [1, 2]
    assert rows[1].values == {"subject": "g", "role": "7", "division": "", "subject_type": "group"}


def test_ndjson_errors_name_the_line():
    with pytest.raises(DesiredTableError, match="Line 2 of the desired file is not JSON"):
        rows_of(b'{"subject": "a", "role": "r", "division": "d"}\n{oops\n', "ndjson")
    with pytest.raises(DesiredTableError, match="Line 1 of the desired file is a JSON list"):
        rows_of(b'["a", "r", "d"]\n', "ndjson")
    with pytest.raises(DesiredTableError, match=r"Line 1 lacks the column\(s\) division"):
        rows_of(b'{"subject": "a", "role": "r"}\n', "ndjson")


def test_rows_from_xcom_and_sql():
    rows = list(read_rows([{"group": "Team Leads", "user": "ann@example.com"}], "group_members"))
    assert rows[0].values == {"group": "Team Leads", "user": "ann@example.com"}
    sql = list(read_sql(iter([("ann@example.com", "inactive")]), ["USER", "State"], "user_state"))
    assert sql[0].values == {"user": "ann@example.com", "state": "inactive"}
    with pytest.raises(DesiredTableError, match=r"The query's result lacks the column\(s\) queue"):
        list(read_sql(iter([]), ["user"], "queue_members"))
    with pytest.raises(DesiredTableError, match="Row 2 of the desired rows is a str"):
        list(read_rows([{"user": "a", "state": "active"}, "oops"], "user_state"))
    with pytest.raises(DesiredTableError, match="The query has no rows"):
        list(read_sql(iter([]), ["user", "state"], "user_state"))


def test_unknown_relation_and_format_list_the_choices():
    with pytest.raises(DesiredTableError, match="grants, group_members, queue_members, user_division, "
                                                "user_languages, user_skills, user_state"):
        rows_of(b"a\n", rel="roles")
    with pytest.raises(DesiredTableError, match="format='csv'"):
        format_of("s3://bucket/desired.xlsx")
    assert format_of("s3://b/desired.CSV.gz") == "csv"
    assert format_of("/x/rows.jsonl") == "ndjson"


def test_errors_belong_to_the_provider_family():
    assert issubclass(DesiredTableError, GenesysAccessError)
    assert issubclass(GenesysAccessError, GenesysCloudError)


def test_rows_are_streamed_not_read_whole():
    """The reader asks the file for more only as rows are consumed."""

    class Counting(io.BytesIO):
        reads = 0

        def read(self, *args):
            Counting.reads += 1
            return super().read(*args)

    body = b"subject,role,division\n" + b"ann@example.com,Supervisor,Sales\n" * 200_000
    file = Counting(body)
    rows = read_file(file, "grants", "csv")
    next(rows)
    assert file.tell() < len(body) // 10


def test_the_callers_file_stays_open_and_a_plain_reader_works_too():
    file = io.BytesIO(b"user,state\r\nann@example.com,inactive\r\n")
    assert [r.values for r in read_file(file, "user_state", "csv")] == [{"user": "ann@example.com",
                                                                          "state": "inactive"}]
    assert not file.closed

    class Unbuffered:  # only read(): what some file-likes offer
        def __init__(self, data: bytes) -> None:
            self.inner = io.BytesIO(data)

        def read(self, size: int = -1) -> bytes:
            return self.inner.read(size)

    rows = list(read_file(Unbuffered("\ufeffuser,state\r\nann@example.com,active\r\n".encode()), "user_state", "csv"))
    assert rows[0].values == {"user": "ann@example.com", "state": "active"}
