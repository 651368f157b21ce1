-- Coverage of round-the-clock service housing, 75+ (Ympärivuorokautisen palveluasumisen
-- peittävyys): clients aged 75+ in round-the-clock service housing on the last month end
-- inside the period / residents aged 75+ in Kanta-Häme (Sotkanet region 963) that year
-- (indicator 127 population 31.12. × indicator 171 share aged 75+ / 100), in %.
-- A point-in-time figure: the period's value is its last month end, not a sum.
WITH ends AS (
    SELECT fi_period(stat_date) AS period, MAX(stat_date) AS last_end
    FROM care_clients
    GROUP BY fi_period(stat_date)
),
clients AS (
    SELECT stat_date, COUNT(*) AS clients
    FROM care_clients
    WHERE round_the_clock AND age >= 75
    GROUP BY stat_date
),
residents AS (
    SELECT p.year, p.value * s.value / 100.0 AS residents_75
    FROM population p
    JOIN population s ON s.year = p.year AND s.region = p.region
    WHERE p.indicator = 127 AND s.indicator = 171 AND p.region = 963
)
SELECT
    ends.period,
    CAST(NULL AS VARCHAR) AS dimension,
    CAST(NULL AS VARCHAR) AS member,
    100.0 * clients.clients / residents.residents_75 AS value,
    clients.clients AS numerator,
    residents.residents_75 AS denominator,
    clients.clients AS n
FROM ends
JOIN clients ON clients.stat_date = ends.last_end
JOIN residents ON residents.year = date_part('year', ends.last_end)
