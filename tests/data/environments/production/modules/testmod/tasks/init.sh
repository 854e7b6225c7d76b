#!/bin/sh
. "$PT__installdir/testmod/files/helper.sh"
greet world
