"""KPI measurements by API and CSV: wrong unit, future dates and bad CSV rows are refused and nothing is written."""
from __future__ import annotations

from datetime import date, timedelta

TODAY = date.today()


def test_measurements_recorded_and_status_against_target(client, admin, usecase):
    body = {"measurements": [
        {"kpi": "handle time", "value": 11.0, "unit": "min", "measured_on": str(TODAY - timedelta(days=14))},
        {"kpi": "handle time", "value": 7.5, "unit": "min", "measured_on": str(TODAY - timedelta(days=7))},
        {"kpi": "csat", "value": 3.8, "unit": "score", "measured_on": str(TODAY)}]}
    r = client.post(f"/api/v1/usecases/{usecase}/kpis/measurements", json=body, headers=admin)
    assert r.status_code == 201, r.text
    assert r.json()["recorded"] == 3
    kpis = {k["name"]: k for k in client.get(f"/api/v1/usecases/{usecase}/kpis", headers=admin).json()["kpis"]}
    assert kpis["handle time"]["role"] == "north_star"
    assert [m["value"] for m in kpis["handle time"]["measurements"]] == [11.0, 7.5]
    assert kpis["handle time"]["status"] == "on_target"  # 7.5 <= 8, lower is better
    assert kpis["csat"]["status"] == "off_target"  # 3.8 < 4.0, higher is better
    assert kpis["escalation share"]["status"] == "no_data"


def test_wrong_unit_or_future_date_is_422_and_writes_nothing(client, admin, usecase):
    good = {"kpi": "handle time", "value": 9.0, "unit": "min", "measured_on": str(TODAY)}
    wrong_unit = {"kpi": "handle time", "value": 540, "unit": "s", "measured_on": str(TODAY)}
    future = {"kpi": "csat", "value": 4.2, "unit": "score", "measured_on": str(TODAY + timedelta(days=3))}
    for bad, field, words in ((wrong_unit, "unit", "measured in 'min'"), (future, "measured_on", "in the future")):
        r = client.post(f"/api/v1/usecases/{usecase}/kpis/measurements", json={"measurements": [good, bad]}, headers=admin)
        assert r.status_code == 422, r.text
        err = r.json()["error"]
        assert err["details"][0]["field"] == f"measurements.1.{field}"
        assert words in err["details"][0]["message"]
    r = client.post(f"/api/v1/usecases/{usecase}/kpis/measurements",
                    json={"kpi": "nps", "value": 1, "unit": "pt", "measured_on": str(TODAY)}, headers=admin)
    assert r.status_code == 422 and "unknown KPI" in r.json()["error"]["message"]
    kpis = client.get(f"/api/v1/usecases/{usecase}/kpis", headers=admin).json()["kpis"]
    assert all(k["measurements"] == [] for k in kpis)


def test_csv_import_reports_every_bad_line_and_imports_nothing(client, admin, usecase):
    csv = ("kpi,value,unit,measured_on\n"
           f"handle time,10.5,min,{TODAY}\n"
           f"handle time,abc,min,{TODAY}\n"
           f"csat,4.3,percent,{TODAY}\n"
           f"csat,4.3,score,{date.today() + timedelta(days=2)}\n"  # +2: still future across midnight
           f"csat,4.4,score,not-a-date\n")
    r = client.post(f"/api/v1/usecases/{usecase}/kpis/import", content=csv.encode(),
                    headers={**admin, "content-type": "text/csv"})
    assert r.status_code == 422, r.text
    lines = [d["line"] for d in r.json()["error"]["details"]]
    assert lines == [3, 4, 5, 6]
    assert "nothing imported" in r.json()["error"]["message"]
    kpis = client.get(f"/api/v1/usecases/{usecase}/kpis", headers=admin).json()["kpis"]
    assert all(k["measurements"] == [] for k in kpis)
    ok = "kpi,value,unit,measured_on,note\n" + f"handle time,10.5,min,{TODAY},weekly sample\ncsat,4.3,score,{TODAY},\n"
    r = client.post(f"/api/v1/usecases/{usecase}/kpis/import", content=ok.encode(),
                    headers={**admin, "content-type": "text/csv"})
    assert r.status_code == 201 and r.json() == {"imported": 2}
    kpis = {k["name"]: k for k in client.get(f"/api/v1/usecases/{usecase}/kpis", headers=admin).json()["kpis"]}
    assert kpis["handle time"]["measurements"][0]["source"] == "csv"


def test_csv_without_required_header_is_refused(client, admin, usecase):
    r = client.post(f"/api/v1/usecases/{usecase}/kpis/import", content=b"name,val\nx,1\n",
                    headers={**admin, "content-type": "text/csv"})
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["line"] == 1
