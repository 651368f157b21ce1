-- Digital share of primary-care contacts (Digikäynnit % kaikista käynneistä): contacts in the
-- digital channels (Chat, Digitaalinen sote-keskus) / all primary-care outpatient contacts.
-- n is the number of contacts. Totals, then by health station and by channel.
WITH visits AS (
    SELECT
        fi_period(month) AS period,
        unit,
        channel,
        CASE WHEN digital THEN visits ELSE 0 END AS digital_visits,
        visits
    FROM primary_care_visits
)
SELECT
    period,
    CAST(NULL AS VARCHAR) AS dimension,
    CAST(NULL AS VARCHAR) AS member,
    100.0 * SUM(digital_visits) / SUM(visits) AS value,
    SUM(digital_visits) AS numerator,
    SUM(visits) AS denominator,
    SUM(visits) AS n
FROM visits
GROUP BY period
UNION ALL
SELECT period, 'unit', unit, 100.0 * SUM(digital_visits) / SUM(visits), SUM(digital_visits), SUM(visits) AS denominator, SUM(visits) AS n
FROM visits
GROUP BY period, unit
UNION ALL
SELECT period, 'channel', channel, 100.0 * SUM(digital_visits) / SUM(visits), SUM(digital_visits), SUM(visits) AS denominator, SUM(visits) AS n
FROM visits
GROUP BY period, channel
