#!/usr/bin/perl
# Reads the evaluation's items on stdin (id, kind, recipient index, file or reply text;
# tab-separated) and writes Sisimai's reading of each as one JSON line: its reason, the
# status, the action, the reply code and whether it calls the bounce soft.
# Needs Sisimai 4.x (Debian: apt-get install libsisimai-perl).
use strict;
use warnings;
use Sisimai;
use Sisimai::SMTP::Status;
use Sisimai::SMTP::Reply;
use Sisimai::SMTP::Error;
use JSON::PP;

my $json = JSON::PP->new->canonical;
my %cache;
binmode STDOUT, ':encoding(UTF-8)';

while (my $line = <STDIN>) {
    chomp $line;
    my ($id, $kind, $index, $arg) = split /\t/, $line, 4;
    my %out = (ID => $id, Reason => '', Status => '', Action => '', Code => '', Soft => -1);
    if ($kind eq 'reply') {
        $arg =~ s/\\n/\n/g;
        my $status = Sisimai::SMTP::Status->find($arg) || '';
        my $reason = Sisimai->match($arg) || '';
        $reason ||= Sisimai::SMTP::Status->name($status) || '' if $status;
        my $perm = Sisimai::SMTP::Error->is_permanent($arg);
        %out = (%out, Reason => $reason, Status => $status, Code => (Sisimai::SMTP::Reply->find($arg) || ''),
            Soft => defined $perm ? ($perm ? 0 : 1) : -1);
    } else {
        my $list = $cache{$arg} //= eval { local $SIG{__WARN__} = sub {}; Sisimai->make($arg, delivered => 1) } || [];
        my $d = $list->[$index - 1] // $list->[0];
        if ($d) {
            %out = (%out, Reason => ($d->reason // ''), Status => ($d->deliverystatus // ''), Action => ($d->action // ''),
                Code => ($d->replycode // ''), Soft => ($d->softbounce // -1));
        }
    }
    $out{$_} = "$out{$_}" for qw(Soft Code Status);
    print $json->encode(\%out), "\n";
}
