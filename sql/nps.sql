-- Customer NPS (Asiakaskokemus, NPS-suositteluindeksi): 100 × (promoters 9–10 − detractors
-- 0–6) / responses, rounded to one decimal; n = responses. Periods with fewer than min_n
-- responses are suppressed and breakdown cells under min_cell_n are never shown (see toml).
-- Totals, then by unit, service, sector and channel.
WITH responses AS (
    SELECT
        fi_period(answered_at) AS period,
        unit,
        service,
        sector,
        channel,
        CASE WHEN score >= 9 THEN 1 WHEN score <= 6 THEN -1 ELSE 0 END AS vote
    FROM feedback
)
SELECT
    period,
    CASE
        WHEN GROUPING(unit) = 0 THEN 'unit'
        WHEN GROUPING(service) = 0 THEN 'service'
        WHEN GROUPING(sector) = 0 THEN 'sector'
        WHEN GROUPING(channel) = 0 THEN 'channel'
    END AS dimension,
    CASE
        WHEN GROUPING(unit) = 0 THEN unit
        WHEN GROUPING(service) = 0 THEN service
        WHEN GROUPING(sector) = 0 THEN sector
        WHEN GROUPING(channel) = 0 THEN channel
    END AS member,
    ROUND(100.0 * SUM(vote) / COUNT(*), 1) AS value,
    COUNT(*) AS n
FROM responses
GROUP BY GROUPING SETS ((period), (period, unit), (period, service), (period, sector), (period, channel))
