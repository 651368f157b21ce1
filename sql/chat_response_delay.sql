-- Chat response delay (Chatin vastausviive, ka. kaikki palvelut): mean minutes from the chat
-- request to an agent accepting it, over accepted chats in every chat queue.
-- Totals, then by queue, service and sector.
WITH accepted AS (
    SELECT
        fi_period(requested_at) AS period,
        queue,
        service,
        sector,
        (CAST(accepted_at AS BIGINT) - CAST(requested_at AS BIGINT)) / 60000000.0 AS minutes
    FROM chats
    WHERE accepted_at IS NOT NULL
)
SELECT
    period,
    CASE
        WHEN GROUPING(queue) = 0 THEN 'queue'
        WHEN GROUPING(service) = 0 THEN 'service'
        WHEN GROUPING(sector) = 0 THEN 'sector'
    END AS dimension,
    CASE
        WHEN GROUPING(queue) = 0 THEN queue
        WHEN GROUPING(service) = 0 THEN service
        WHEN GROUPING(sector) = 0 THEN sector
    END AS member,
    AVG(minutes) AS value,
    SUM(minutes) AS numerator,
    COUNT(*) AS denominator,
    COUNT(*) AS n
FROM accepted
GROUP BY GROUPING SETS ((period), (period, queue), (period, service), (period, sector))
