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
    CAST(NULL AS VARCHAR) AS dimension,
    CAST(NULL AS VARCHAR) AS member,
    AVG(minutes) AS value,
    SUM(minutes) AS numerator,
    COUNT(*) AS denominator,
    COUNT(*) AS n
FROM accepted
GROUP BY period
UNION ALL
SELECT period, 'queue', queue, AVG(minutes), SUM(minutes), COUNT(*) AS denominator, COUNT(*) AS n
FROM accepted
GROUP BY period, queue
UNION ALL
SELECT period, 'service', service, AVG(minutes), SUM(minutes), COUNT(*) AS denominator, COUNT(*) AS n
FROM accepted
GROUP BY period, service
UNION ALL
SELECT period, 'sector', sector, AVG(minutes), SUM(minutes), COUNT(*) AS denominator, COUNT(*) AS n
FROM accepted
GROUP BY period, sector
