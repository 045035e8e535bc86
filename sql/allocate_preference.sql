--
-- Which batch allocate chooses: rule 2 (warehouse first, then earliest eta,
-- ties by reference in C byte order) and rule 1 (a line is never split; a
-- batch whose available quantity equals the line's qty can take it).
-- SKUs, references and order ids of this file start with "AP-".
--
\set VERBOSITY terse

-- rule 2: a warehouse batch is preferred to a shipment, even one that
-- arrives tomorrow and whose reference sorts first
SELECT allocation.add_batch('AP-A-SHIP', 'AP-LAMP', 10, '2000-01-01');
SELECT allocation.add_batch('AP-Z-WAREHOUSE', 'AP-LAMP', 10);
SELECT allocation.allocate('AP-o1', 'AP-LAMP', 1);

-- rule 2: among shipments, the earliest eta wins, whatever the reference
-- order or the order in which the batches were added
SELECT allocation.add_batch('AP-A-LATE', 'AP-VASE', 10, '2031-03-01');
SELECT allocation.add_batch('AP-Z-EARLY', 'AP-VASE', 10, '2031-01-01');
SELECT allocation.add_batch('AP-M-MIDDLE', 'AP-VASE', 10, '2031-02-01');
SELECT allocation.allocate('AP-o2', 'AP-VASE', 1);

-- once the earliest one cannot hold a line, the next earliest takes it
SELECT allocation.allocate('AP-o3', 'AP-VASE', 10);

-- rule 2 ties (warehouse batches): by reference in byte order, so "B-10"
-- comes before "B-9" (the character "1" before "9") ...
SELECT allocation.add_batch('AP-B-9', 'AP-TIE-DIGITS', 5);
SELECT allocation.add_batch('AP-B-10', 'AP-TIE-DIGITS', 5);
SELECT allocation.allocate('AP-o4', 'AP-TIE-DIGITS', 1);

-- ... "Z" before "a" (upper case before lower case) ...
SELECT allocation.add_batch('AP-a', 'AP-TIE-CASE', 5);
SELECT allocation.add_batch('AP-Z', 'AP-TIE-CASE', 5);
SELECT allocation.allocate('AP-o5', 'AP-TIE-CASE', 1);

-- ... "B" before "b" ...
SELECT allocation.add_batch('AP-b1', 'AP-TIE-CASE2', 5);
SELECT allocation.add_batch('AP-B2', 'AP-TIE-CASE2', 5);
SELECT allocation.allocate('AP-o6', 'AP-TIE-CASE2', 1);

-- ... "x-c" before "xb" (punctuation is not ignored, "-" is 0x2D) ...
SELECT allocation.add_batch('AP-xb', 'AP-TIE-PUNCT', 5);
SELECT allocation.add_batch('AP-x-c', 'AP-TIE-PUNCT', 5);
SELECT allocation.allocate('AP-o7', 'AP-TIE-PUNCT', 1);

-- ... and "Z" before "É" (UTF-8 bytes, not accent-aware collation)
SELECT allocation.add_batch('AP-É', 'AP-TIE-ACCENT', 5);
SELECT allocation.add_batch('AP-Z2', 'AP-TIE-ACCENT', 5);
SELECT allocation.allocate('AP-o8', 'AP-TIE-ACCENT', 1);

-- shipments with the same eta are tied by reference the same way
SELECT allocation.add_batch('AP-S-9', 'AP-TIE-ETA', 5, '2031-06-01');
SELECT allocation.add_batch('AP-S-10', 'AP-TIE-ETA', 5, '2031-06-01');
SELECT allocation.add_batch('AP-S-0', 'AP-TIE-ETA', 5, '2031-06-02');
SELECT allocation.allocate('AP-o9', 'AP-TIE-ETA', 1);

-- the tie-break holds after the preferred batch was used: the same batch
-- keeps being chosen while it has room
SELECT allocation.allocate('AP-o10', 'AP-TIE-ETA', 4);
SELECT allocation.allocate('AP-o11', 'AP-TIE-ETA', 1);

-- rule 1: a line is never split.  Two batches of 5 cannot serve 8:
-- out of stock, nothing allocated anywhere
SELECT allocation.add_batch('AP-H1', 'AP-SPLIT', 5);
SELECT allocation.add_batch('AP-H2', 'AP-SPLIT', 5, '2031-01-01');
SELECT allocation.allocate('AP-o12', 'AP-SPLIT', 8) IS NULL AS out_of_stock;
SELECT reference, allocated, available FROM allocation.stock
 WHERE sku = 'AP-SPLIT' ORDER BY reference;
SELECT type, payload FROM allocation.outbox
 WHERE aggregateid = 'AP-SPLIT' AND type <> 'BatchCreated' ORDER BY aggregate_seq;

-- rule 1: a preferred batch too small for the line is skipped, the line
-- goes whole to the next batch that can hold it
SELECT allocation.allocate('AP-o13', 'AP-SPLIT', 3);
SELECT allocation.allocate('AP-o14', 'AP-SPLIT', 4);

-- rule 1: available exactly equal to qty is enough (AP-H1 has 2 left)
SELECT allocation.allocate('AP-o15', 'AP-SPLIT', 2);
SELECT reference, allocated, available FROM allocation.stock
 WHERE sku = 'AP-SPLIT' ORDER BY reference;

-- and a line of one more than what is left anywhere is out of stock
SELECT allocation.allocate('AP-o16', 'AP-SPLIT', 2) IS NULL AS out_of_stock;

-- a batch freed by deallocate is preferred again by rule 2
SELECT allocation.deallocate('AP-o13', 'AP-SPLIT');
SELECT allocation.allocate('AP-o17', 'AP-SPLIT', 1);
