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
    CASE
        WHEN GROUPING(service) = 0 THEN 'service'
        WHEN GROUPING(sector) = 0 THEN 'sector'
    END AS dimension,
    CASE
        WHEN GROUPING(service) = 0 THEN service
        WHEN GROUPING(sector) = 0 THEN sector
    END AS member,
    100.0 * SUM(callback) / COUNT(*) AS value,
    SUM(callback) AS numerator,
    COUNT(*) AS denominator,
    COUNT(*) AS n
FROM first_line
GROUP BY GROUPING SETS ((period), (period, service), (period, sector))
