#!/usr/bin/perl
# test/search_path/report.pl LOG... - reads the psql logs of the
# search_path class test (scripts/extra-tests/search_path.sh) and says
# which shadows ran, in which call, state, role and search_path, and
# which calls did not end as they should (a superuser's call must
# succeed; another role's may be refused with 42501, nothing else).
#
# A log holds, per call:
#   @@call STATE|ROLE|PATH|FUNCTIONS|SQL     (psql's \warn, before the call)
#   WARNING:  sp-hit: <shadow> as <user> (session user <user>)
#   CONTEXT:  ... SQL statement "<the statement that named it>" ...
#   ERROR:  SQLSTATE: ...                    (VERBOSITY verbose)
#   @@end SQLSTATE                           (psql's :SQLSTATE)
#
# Prints a summary and, per shadow that ran: how often, as whom, in which
# states and search_paths, the statements of ours that named it (from the
# messages' context) and the first calls (state | role | search_path | SQL);
# exits 1 if a shadow ran or a call ended badly, 2 if no call was seen.
use strict;
use warnings;

my ($calls, $bad_calls) = (0, 0);
my (%hits, @bad, $cur, $last_hit, $error, $error_code);
my $nhits = 0;

sub finish_call {
	my ($code) = @_;
	return unless $cur;
	$code = $error_code if defined $error_code;
	$calls++;
	my ($state, $role, $path, $fns, $sql) = @$cur;
	my $ok = $code eq '00000' || ($role ne 'superuser' && $code eq '42501');
	if (!$ok) {
		$bad_calls++;
		push @bad, sprintf("  %s | %s | %s | %s: %s%s", $state, $role, $path, $sql, $code,
						   $error ? " ($error)" : '');
	}
	undef $cur;
	undef $last_hit;
	undef $error;
	undef $error_code;
}

while (my $line = <>) {
	chomp $line;
	if ($line =~ /^\@\@call (.*)$/) {
		finish_call('no end') if $cur;
		$cur = [split /\|/, $1, 5];
	} elsif ($line =~ /^\@\@end (\S*)/) {
		finish_call($1);
	} elsif ($line =~ /^WARNING:\s+(?:01000: )?sp-hit: (.*)$/) {
		my ($shadow, $as, $session) = $1 =~ /^(.*) as (\S+) \(session user (\S+)\)$/;
		$nhits++;
		my ($state, $role, $path, $fns, $sql) = $cur ? @$cur : ('?', '?', '?', '?', 'outside any call');
		$last_hit = { call => "$state | $role | $path | $sql", state => $state, path => $path,
					  as => "$as (called by $session)", up => $as ne $session };
		push @{ $hits{$shadow} }, $last_hit;
	} elsif ($line =~ /^(?:ERROR|FATAL):\s+(?:([0-9A-Z]{5}): )?(.*)$/) {
		# the first error of a call is what it ended with (the statements
		# after it only say that the transaction is aborted)
		($error_code, $error) = ($1 // 'XX000', $2) unless defined $error;
		undef $last_hit;
	} elsif ($line =~ /sp_evil\./) {
		# the context of the shadow's own statements
	} elsif ($last_hit && $line =~ /SQL statement "(.*)/) {
		# the innermost statement of ours that named the shadow
		my $s = "SQL statement \"$1";
		$s =~ s/\s+/ /g;
		$s = substr($s, 0, 150) . '...' if length($s) > 150;
		$last_hit->{stmt} //= $s;
	} elsif ($last_hit && $line =~ /(PL\/pgSQL function (?!sp_evil\.).*)$/) {
		$last_hit->{plfn} //= $1;
	}
}
finish_call('no end') if $cur;

printf "calls run: %d, calls that ended badly: %d, shadows run: %d\n", $calls, $bad_calls, $nhits;
# "a 3, b 1" from a list
sub counts {
	my %n;
	$n{$_}++ for @_;
	return join(', ', map { "$_ $n{$_}" } sort keys %n);
}

if ($nhits) {
	# those that ran with more rights than their caller's first
	my %up;
	for my $shadow (keys %hits) {
		$up{$shadow} = grep { $_->{up} } @{ $hits{$shadow} };
	}
	my @shadows = sort { !!$up{$b} <=> !!$up{$a} || @{ $hits{$b} } <=> @{ $hits{$a} } || $a cmp $b }
		keys %hits;
	printf "SHADOWS THAT RAN: sp_mallory's code, run with another role's rights (%d different\n"
		. "shadows; first those that ran with more rights than their caller had, marked\n"
		. "[owner's rights], then the most frequent):\n", scalar @shadows;
	my $shown = 0;
	for my $shadow (@shadows) {
		if (++$shown > 40) {
			printf "  ... and %d more shadows (log/search_path/)\n", @shadows - 40;
			last;
		}
		my @h = @{ $hits{$shadow} };
		my (%as, %where, %call);
		for my $x (@h) {
			$as{ $x->{as} } = 1;
			my $w = join(' / ', grep { defined } $x->{stmt}, $x->{plfn});
			$w =~ s/pg_catalog\.//g;
			$where{ $w eq '' ? '(the call itself)' : $w }++;
			$call{ $x->{call} } //= scalar keys %call;
		}
		printf "  %s%s: ran %d times, as %s\n", $up{$shadow} ? "[owner's rights] " : '', $shadow, scalar @h,
			join('; ', sort keys %as);
		printf "    states: %s; search_paths: %s\n", counts(map { $_->{state} } @h),
			counts(map { $_->{path} } @h);
		my @w = sort { $where{$b} <=> $where{$a} || $a cmp $b } keys %where;
		printf "    named by: %s\n", $_ for @w[0 .. ($#w < 3 ? $#w : 3)];
		printf "    named by: ... and %d more places\n", @w - 4 if @w > 4;
		my @c = sort { $call{$a} <=> $call{$b} } keys %call;
		printf "    in call: %s\n", $_ for @c[0 .. ($#c < 2 ? $#c : 2)];
		printf "    in call: ... and %d more calls\n", @c - 3 if @c > 3;
	}
}
if (@bad) {
	print "CALLS THAT ENDED BADLY (state | role | search_path | call: SQLSTATE):\n";
	print "$_\n" for @bad[0 .. ($#bad < 29 ? $#bad : 29)];
	printf "  ... and %d more\n", @bad - 30 if @bad > 30;
}
exit 2 if $calls == 0;
exit(($nhits || $bad_calls) ? 1 : 0);
