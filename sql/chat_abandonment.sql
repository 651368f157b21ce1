-- Chat abandonment (Keskeytyneet chat-pyynnöt): requests dropped before an agent accepted
-- them / all chat requests. Ninchat gives only a drop time, so `dropped` is empty for the
-- sessions it did not drop: a missing flag means "dropped if never accepted".
-- Totals, then by queue, service and sector.
WITH requests AS (
    SELECT
        fi_period(requested_at) AS period,
        queue,
        service,
        sector,
        CASE WHEN COALESCE(dropped, accepted_at IS NULL) THEN 1 ELSE 0 END AS dropped
    FROM chats
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
    100.0 * SUM(dropped) / COUNT(*) AS value,
    SUM(dropped) AS numerator,
    COUNT(*) AS denominator,
    COUNT(*) AS n
FROM requests
GROUP BY GROUPING SETS ((period), (period, queue), (period, service), (period, sector))
