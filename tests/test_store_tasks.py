"""Review tasks across a merge and its undo: the queue comes back as it was, claims included."""
from __future__ import annotations

from store_support import example_records, open_store


def test_unmerge_gives_back_a_claimed_duplicate_task_to_its_steward(database_url):
    with open_store(database_url) as store:
        store.ingest_frame(example_records())
        duplicates = [t for t in store.review_tasks(limit=1000) if t["kind"] == "golden_golden"]
        assert duplicates, "loading the sample opens possible-duplicate tasks"
        task = duplicates[0]
        store.claim(task["id"], "steward.a")
        survivor = store.merge(task["golden_id"], task["other_golden_id"], "steward.b", "same person")
        assert store.review_task(task["id"])["status"] == "obsolete"
        merged_away = task["other_golden_id"] if survivor == task["golden_id"] else task["golden_id"]
        store.unmerge(merged_away, "steward.b", "not the same person after all")
        after = store.review_task(task["id"])
        assert (after["status"], after["claimed_by"]) == ("claimed", "steward.a")
