"""Golden scenarios: readable stories of transactions and the alerts they must (and must not) raise,
run on a real stream engine."""
