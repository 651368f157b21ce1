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
    CASE
        WHEN GROUPING(urgency) = 0 THEN 'urgency'
        WHEN GROUPING(municipality) = 0 THEN 'municipality'
    END AS dimension,
    CASE
        WHEN GROUPING(urgency) = 0 THEN urgency
        WHEN GROUPING(municipality) = 0 THEN municipality
    END AS member,
    100.0 * SUM(not_conveyed) / COUNT(*) AS value,
    SUM(not_conveyed) AS numerator,
    COUNT(*) AS denominator,
    COUNT(*) AS n
FROM tasks
GROUP BY GROUPING SETS ((period), (period, urgency), (period, municipality))
