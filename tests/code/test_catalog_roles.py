"""The catalog says which features are context (the peer baseline) and which facts repeat."""

from features.catalog import CONTEXT_FEATURES, build_catalog, catalog_for_columns


def test_context_features_are_the_contract_and_the_account_profile():
    catalog = build_catalog(["active_users", "logins"])
    assert set(catalog.context) == CONTEXT_FEATURES
    for name in ("contract_term_days", "days_to_renewal", "tenure_days", "segment", "plan"):
        assert catalog[name].is_context
    for name in ("seat_utilization_30d", "nps_last_score", "price_per_seat_change_12m", "failed_or_late_invoices_90d"):
        assert not catalog[name].is_context
    assert set(catalog.context) | set(catalog.actionable) == set(catalog.names)


def test_features_that_state_one_fact_share_a_concept():
    catalog = build_catalog(["active_users", "logins"])
    price = {f.name for f in catalog if f.fact == "price"}
    rises = {"price_per_seat_change_12m", "price_per_seat_max_step_12m", "price_per_seat_change_at_last_renewal"}
    assert rises <= price
    assert catalog["usage_logins_mean_7d"].fact == catalog["usage_logins_mean_90d"].fact == "usage_logins_level"
    assert catalog["usage_logins_mean_7d"].fact != catalog["usage_active_users_mean_7d"].fact
    assert catalog["seat_utilization_30d"].fact == "seat_utilization_30d"  # a fact of its own


def test_counts_of_days_since_an_event_tick_with_the_clock():
    catalog = build_catalog(["active_users"])
    assert catalog["days_since_champion_left"].clock and catalog["tenure_days"].clock
    assert not catalog["champion_losses_300d"].clock and not catalog["seat_utilization_30d"].clock


def test_roles_of_a_table_made_elsewhere_are_guessed_from_names():
    catalog = catalog_for_columns({"contract_term_months": "numeric", "tenure": "numeric", "logins_30d": "numeric"})
    assert catalog.context == ["contract_term_months", "tenure"]
    assert catalog.actionable == ["logins_30d"]
