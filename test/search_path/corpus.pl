#!/usr/bin/perl
# test/search_path/corpus.pl FILE... - the SQL text of the extension, for
# the search_path class test (scripts/extra-tests/search_path.sh).
#
# For a .c file: its string literals (the SQL the C code runs; adjacent
# literals are joined).  For a .sql file: the file without its comments.
# Prints one text a line: then "words" (identifiers, lower case) and
# "operators" (runs of operator characters) are cut out of it by the
# caller's SQL, which keeps those that name something in pg_catalog.
use strict;
use warnings;

for my $file (@ARGV) {
	open(my $fh, '<', $file) or die "$file: $!";
	local $/;
	my $text = <$fh>;
	close($fh);
	if ($file =~ /\.c$/) {
		$text =~ s{/\*.*?\*/}{ }gs;			# C comments
		$text =~ s{//[^\n]*}{ }g;
		$text =~ s{'(?:\\.|[^'\\])'}{ }g;	# character constants
		my @lits;
		while ($text =~ /"((?:\\.|[^"\\])*)"/gs) {
			push @lits, $1;
		}
		print join(' ', @lits), "\n";
	} else {
		$text =~ s{/\*.*?\*/}{ }gs;			# SQL block comments
		$text =~ s{--[^\n]*}{ }g;			# SQL line comments
		$text =~ s{\n}{ }g;
		print $text, "\n";
	}
}
