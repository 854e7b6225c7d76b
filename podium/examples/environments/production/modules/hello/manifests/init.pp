# A class for deploys to change: it manages `${dir}/hello.txt`, naming the node and the
# environment it was compiled for. Set `hello::dir` in Hiera (`make puppetserver` points it at
# Podium's data directory); in noop mode nothing is written.
class hello (
  String[1] $dir = '/tmp/podium-hello',
  String $greeting = 'Hello from Puppet',
) {
  file { $dir:
    ensure => directory,
  }
  file { "${dir}/hello.txt":
    ensure  => file,
    content => "${greeting}: ${trusted['certname']} in environment ${server_facts['environment']}\n",
  }
}
