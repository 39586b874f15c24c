//! Profile → bytes: a marshal writer whose output Python's pstats loads.
