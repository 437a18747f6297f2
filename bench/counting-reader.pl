# A stand-in for the entropy host's RNG reader that counts what it gives away.
#
#   perl counting-reader.pl COUNTER_FILE
#
# Streams /dev/urandom to stdout in 512-byte writes (like `dd if=/dev/hwrng bs=512`) and, after
# every completed write, records the total written so far in COUNTER_FILE (atomically, by
# rename). A write that blocks on a full pipe is not counted until it completes, so the counter
# is exactly what the host's RNG has given up.
use strict;
use warnings;
my $counter = shift or die "usage: counting-reader.pl COUNTER_FILE\n";
open(my $rng, "<", "/dev/urandom") or die "/dev/urandom: $!\n";
my $total = 0;
while (sysread($rng, my $block, 512)) {
    my $written = syswrite(STDOUT, $block);
    die "write: $!\n" unless defined $written;
    $total += $written;
    open(my $out, ">", "$counter.tmp") or die "$counter.tmp: $!\n";
    print $out $total;
    close $out;
    rename "$counter.tmp", $counter or die "rename: $!\n";
}
