# Every node gets the `hello` class.
node default {
  include hello
}
