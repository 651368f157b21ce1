-- Callback share of first-line contacts (Takaisinsoittojen osuus ensilinjassa):
-- contacts where the caller asked for a callback / all contacts received,
-- in the county's first-line queues. Totals, then by service and by sector.
WITH first_line AS (
    SELECT
        fi_period(received_at) AS period,
        service,
        sector,
        CASE WHEN callback_requested THEN 1 ELSE 0 END AS callback
    FROM contacts
    WHERE first_line
)
SELECT
    period,
    CAST(NULL AS VARCHAR) AS dimension,
    CAST(NULL AS VARCHAR) AS member,
    100.0 * SUM(callback) / COUNT(*) AS value,
    SUM(callback) AS numerator,
    COUNT(*) AS denominator,
    COUNT(*) AS n
FROM first_line
GROUP BY period
UNION ALL
SELECT period, 'service', service, 100.0 * SUM(callback) / COUNT(*), SUM(callback), COUNT(*) AS denominator, COUNT(*) AS n
FROM first_line
GROUP BY period, service
UNION ALL
SELECT period, 'sector', sector, 100.0 * SUM(callback) / COUNT(*), SUM(callback), COUNT(*) AS denominator, COUNT(*) AS n
FROM first_line
GROUP BY period, sector
