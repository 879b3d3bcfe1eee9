"""Hand-written manifests for unit tests."""

import pandas as pd


def toy_manifest(n_per_class=10, classes=3):
    """A manifest of `classes` x `n_per_class` clips, 3 per class in test; clip c0_01 is
    corrupt and c0_09 has no audio track."""
    rows = []
    for k in range(classes):
        for i in range(n_per_class):
            split = "test" if i < 3 else "train"
            rows.append({"clip_id": f"c{k}_{i:02d}", "path": f"x/c{k}_{i}.avi", "label": f"L{k}",
                         "label_index": k, "split": split, "duration": 3.0,
                         "has_audio": not (k == 0 and i == 9), "status": "ok", "reason": ""})
    rows[1].update(status="corrupt", duration=None, reason="moov atom not found")
    return pd.DataFrame(rows)
