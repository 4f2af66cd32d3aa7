"""Peer cells: the finest comparable group that exists, in words a CSM reads."""

from __future__ import annotations

import numpy as np
import pandas as pd

from training.peers import MIN_PEER_ROWS, PeerBaselines, describe, peer_keys


def _rows(term, days, segment):
    return pd.DataFrame({"contract_term_days": term, "days_to_renewal": days, "segment": segment})


def test_keys_read_cadence_segment_and_horizon_from_features():
    keys = peer_keys(_rows([30.0, 365.0, 1095.0, np.nan], [12.0, 150.0, 400.0, 10.0], ["smb", "mid_market", None, "x"]))
    assert keys["cadence"].tolist() == ["monthly", "annual", "multi-year", "unknown"]
    assert keys["horizon"].tolist() == ["1-90", "91-180", "over 365", "1-90"]  # monthly: its 90-day window
    assert keys["segment"].tolist() == ["smb", "mid_market", "unknown", "x"]


def test_a_row_gets_the_finest_cell_with_enough_training_rows():
    n = MIN_PEER_ROWS
    frame = _rows([365.0] * (2 * n) + [30.0] * n, [60.0] * n + [150.0] * n + [20.0] * n, ["smb"] * (3 * n))
    contributions = np.zeros((3 * n, 2))
    contributions[:n, 0] = 1.0  # annual smb 1-90
    contributions[n : 2 * n, 0] = 3.0  # annual smb 91-180
    peers = PeerBaselines.fit(frame, contributions, np.zeros(3 * n), ["a", "b"])
    means, words = peers.assign(
        _rows([365.0, 365.0, 365.0, 30.0], [70.0, 100.0, 300.0, 5.0], ["smb", "smb", "smb", "smb"])
    )
    assert means[:, 0].tolist() == [1.0, 3.0, 2.0, 0.0]  # 181-365 has no cell: falls back to all annual (mean 2)
    assert words[0] == "annual smb accounts renewing in 1–90 days"
    assert words[2] == "annual accounts"
    assert words[3] == "monthly smb plans (risk of cancelling within 90 days)"


def test_a_bundle_without_peers_measures_from_the_average_row():
    peers = PeerBaselines.from_json(None, ["a", "b"])
    means, words = peers.assign(_rows([365.0], [60.0], ["smb"]))
    assert means.tolist() == [[0.0, 0.0]] and words.tolist() == ["all accounts"]


def test_cells_in_words():
    assert describe({"cadence": "annual", "segment": "mid_market", "horizon": "91-180"}) == (
        "annual mid-market accounts renewing in 91–180 days"
    )
    assert describe({"cadence": "multi-year"}) == "multi-year accounts"
