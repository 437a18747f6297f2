# A stand-in for the entropy host's RNG device (/dev/hwrng) that counts what readers take.
#
#   perl counting-device.pl FIFO COUNTER_FILE
#
# Creates FIFO (mode 0644), keeps it full of /dev/urandom bytes, and about every 100 ms records
# in COUNTER_FILE (atomically, by rename) how many bytes readers have taken from it: bytes
# written into the FIFO minus bytes still queued in it (FIONREAD). Unlike counting-reader.pl this
# counts what `entropy-tunnel serve --device FIFO` read, not what a pipe accepted. It holds the
# FIFO open for reading and writing, so readers never see an end of file. Stop it with SIGTERM.
use strict;
use warnings;
use Fcntl;
use POSIX qw(mkfifo);
my ($fifo, $counter) = @ARGV;
die "usage: counting-device.pl FIFO COUNTER_FILE\n" unless defined $counter;
unlink $fifo;
mkfifo($fifo, 0644) or die "mkfifo $fifo: $!\n";
chmod 0644, $fifo;
sysopen(my $fh, $fifo, O_RDWR | O_NONBLOCK) or die "$fifo: $!\n";
open(my $rng, "<", "/dev/urandom") or die "/dev/urandom: $!\n";
my $FIONREAD = 0x541B;
my $written = 0;
my $last = -1;
while (1) {
    # Top up: 512-byte writes (atomic on a pipe) until the FIFO is full.
    while (1) {
        sysread($rng, my $block, 512) == 512 or die "urandom: $!\n";
        my $n = syswrite($fh, $block);
        last unless defined $n && $n > 0;
        $written += $n;
    }
    my $queued = pack("i", 0);
    ioctl($fh, $FIONREAD, $queued) or die "FIONREAD: $!\n";
    my $taken = $written - unpack("i", $queued);
    if ($taken != $last) {
        open(my $out, ">", "$counter.tmp") or die "$counter.tmp: $!\n";
        print $out $taken;
        close $out;
        rename "$counter.tmp", $counter or die "rename: $!\n";
        $last = $taken;
    }
    select(undef, undef, undef, 0.1);
}
