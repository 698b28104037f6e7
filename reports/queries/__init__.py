"""Report figures, each one or a few GROUP BY queries; rows never come into Python one card
at a time (only the grouped results do, a few dozen rows at most). One module per report
page of reports.catalogue (overview, flow, misses, causes, workload, automation); what
they share is in common. Callers import the page's module
(`from reports.queries import flow`); the names of three of them are also function names,
so nothing is re-exported here.

Periods: cards *created* in the period, except volume (created / closed / breached in each
week), the Pareto of causes (pauses that began in the period) and stage times (stretches
that began in the period). Workload and attention lists are the current state.

On-time shares, volume and misses by team or request type read the daily rollup
(DailyVolume) unless a client is chosen (the rollup has no client dimension); first response
and misses by owner or client read CardFacts. Both are kept by reports.rollup (every few
minutes); the `*_live` functions compute the same figures from the cards and timers
themselves, for the tests that hold the derived tables to them.
"""
