-- OKR tasks done (Avaintulosten tehtävistä valmiina): the share of the tasks attached to
-- key results that are done at the quarter's end. A point-in-time figure: a year shows its
-- fourth quarter. The drill-down shows the share of each state (done, in progress, not
-- started) and the done share by binding goal and sector.
WITH ends AS (
    SELECT fi_period(quarter_end) AS period, MAX(quarter_end) AS last_end
    FROM okr_tasks
    GROUP BY fi_period(quarter_end)
),
tasks AS (
    SELECT
        ends.period,
        t.goal_id,
        t.sector,
        t.state,
        CASE WHEN t.state = 'done' THEN 1 ELSE 0 END AS done
    FROM okr_tasks t
    JOIN ends ON t.quarter_end = ends.last_end
),
totals AS (
    SELECT period, COUNT(*) AS all_tasks FROM tasks GROUP BY period
)
SELECT
    period,
    CASE
        WHEN GROUPING(goal_id) = 0 THEN 'goal'
        WHEN GROUPING(sector) = 0 THEN 'sector'
    END AS dimension,
    CASE
        WHEN GROUPING(goal_id) = 0 THEN goal_id
        WHEN GROUPING(sector) = 0 THEN sector
    END AS member,
    100.0 * SUM(done) / COUNT(*) AS value,
    SUM(done) AS numerator,
    COUNT(*) AS denominator,
    COUNT(*) AS n
FROM tasks
GROUP BY GROUPING SETS ((period), (period, goal_id), (period, sector))
UNION ALL
SELECT
    k.period,
    'state' AS dimension,
    k.state AS member,
    100.0 * COUNT(*) / MAX(t.all_tasks) AS value,
    COUNT(*) AS numerator,
    MAX(t.all_tasks) AS denominator,
    COUNT(*) AS n
FROM tasks k
JOIN totals t ON t.period = k.period
GROUP BY k.period, k.state
