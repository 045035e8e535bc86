-- the purchasing department changes a batch: a hot batch (HB-1..12) or a
-- cold one (CB-1..200), to anything from nothing to plenty; going below
-- what is allocated displaces lines (rule 5)
\set b random(1, 212)
\set q random(0, 400)
SELECT allocation.change_batch_quantity(
	CASE WHEN :b <= 12 THEN 'HB-' || :b ELSE 'CB-' || (:b - 12) END,
	CASE WHEN :b <= 12 THEN :q ELSE :q / 8 END);
