-- Key results progressing (Avaintuloksista etenee): the share of the key results rated
-- "Etenee" among all rated in the quarter. A point-in-time figure: a period's value is its
-- last quarter's ratings (a year shows Q4), not a sum over quarters.
--
-- The quarter's set is the key results in force when the quarter was rated
-- (valid_from <= rated_on <= valid_to). A key result replaced by a decision is counted only
-- under its replacement: when a quarter rates both, the replaced one is left out, so each
-- key result counts once. The drill-down shows the share by binding goal, sector and result
-- area, the share of each rating, and the replacements with their decisions.
WITH in_force AS (
    SELECT *
    FROM key_results
    WHERE valid_from <= rated_on AND (valid_to IS NULL OR rated_on <= valid_to)
),
counted AS (
    SELECT r.*
    FROM in_force r
    LEFT JOIN (SELECT DISTINCT quarter_end, replaces FROM in_force WHERE replaces IS NOT NULL) n
        ON n.quarter_end = r.quarter_end AND n.replaces = r.key_result_id
    WHERE n.replaces IS NULL
),
ends AS (
    SELECT fi_period(quarter_end) AS period, MAX(quarter_end) AS last_end
    FROM counted
    GROUP BY fi_period(quarter_end)
),
rated AS (
    SELECT
        ends.period,
        c.goal_id || ' ' || c.goal AS goal,
        c.sector,
        c.result_area,
        c.rating,
        CASE WHEN c.rating = 'progressing' THEN 1 ELSE 0 END AS progressing,
        CASE
            WHEN c.replaces IS NOT NULL
                THEN c.key_result_id || ' (replaces ' || c.replaces || ': ' || COALESCE(c.decision, 'no decision named') || ')'
        END AS replacement
    FROM counted c
    JOIN ends ON c.quarter_end = ends.last_end
),
totals AS (
    SELECT period, COUNT(*) AS all_rated FROM rated GROUP BY period
)
SELECT
    period,
    CASE
        WHEN GROUPING(goal) = 0 THEN 'goal'
        WHEN GROUPING(sector) = 0 THEN 'sector'
        WHEN GROUPING(result_area) = 0 THEN 'result_area'
        WHEN GROUPING(replacement) = 0 THEN 'replaced_by_decision'
    END AS dimension,
    CASE
        WHEN GROUPING(goal) = 0 THEN goal
        WHEN GROUPING(sector) = 0 THEN sector
        WHEN GROUPING(result_area) = 0 THEN result_area
        WHEN GROUPING(replacement) = 0 THEN replacement
    END AS member,
    100.0 * SUM(progressing) / COUNT(*) AS value,
    SUM(progressing) AS numerator,
    COUNT(*) AS denominator,
    COUNT(*) AS n
FROM rated
GROUP BY GROUPING SETS ((period), (period, goal), (period, sector), (period, result_area), (period, replacement))
HAVING GROUPING(replacement) = 1 OR replacement IS NOT NULL
UNION ALL
-- The share of each rating of all key results rated.
SELECT
    r.period,
    'rating' AS dimension,
    r.rating AS member,
    100.0 * COUNT(*) / MAX(t.all_rated) AS value,
    COUNT(*) AS numerator,
    MAX(t.all_rated) AS denominator,
    COUNT(*) AS n
FROM rated r
JOIN totals t ON t.period = r.period
GROUP BY r.period, r.rating
