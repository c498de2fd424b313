#!/usr/bin/perl
# Mail::SPF (libmail-spf-perl) check_host for each scenario, over the loopback resolver.
# stdin/stdout as pyspf_eval.py.
use strict; use warnings;
use JSON::PP; use Net::DNS; use Mail::SPF;
local $/; my $req = decode_json(<STDIN>);
my ($host, $port) = $req->{server} =~ /^(.*):(\d+)$/;
my $res = Net::DNS::Resolver->new(nameservers => [$host], port => $port, recurse => 1, tcp_timeout => 3, udp_timeout => 3, retry => 1);
my $srv = Mail::SPF::Server->new(dns_resolver => $res);
my %out;
for my $c (@{$req->{cases}}) {
    my $r = eval {
        my $q = Mail::SPF::Request->new(scope => 'mfrom', identity => $c->{sender}, ip_address => $c->{ip}, helo_identity => ($c->{helo} || 'unknown'));
        $srv->process($q)->code;
    };
    $out{$c->{name}} = defined $r ? $r : "crash: $@";
}
print encode_json(\%out);
