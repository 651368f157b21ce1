-- Non-urgent EMS tasks without conveyance (Ensihoidon kiireettömät ilman ambulanssia):
-- C and D tasks not conveyed by ambulance / all C and D tasks.
-- Totals, then by urgency and municipality.
WITH tasks AS (
    SELECT
        fi_period(alarm_at) AS period,
        urgency,
        municipality,
        CASE WHEN conveyed THEN 0 ELSE 1 END AS not_conveyed
    FROM ems_tasks
    WHERE urgency IN ('C', 'D')
)
SELECT
    period,
    CAST(NULL AS VARCHAR) AS dimension,
    CAST(NULL AS VARCHAR) AS member,
    100.0 * SUM(not_conveyed) / COUNT(*) AS value,
    SUM(not_conveyed) AS numerator,
    COUNT(*) AS denominator,
    COUNT(*) AS n
FROM tasks
GROUP BY period
UNION ALL
SELECT period, 'urgency', urgency, 100.0 * SUM(not_conveyed) / COUNT(*), SUM(not_conveyed), COUNT(*) AS denominator, COUNT(*) AS n
FROM tasks
GROUP BY period, urgency
UNION ALL
SELECT period, 'municipality', municipality, 100.0 * SUM(not_conveyed) / COUNT(*), SUM(not_conveyed), COUNT(*) AS denominator, COUNT(*) AS n
FROM tasks
GROUP BY period, municipality
