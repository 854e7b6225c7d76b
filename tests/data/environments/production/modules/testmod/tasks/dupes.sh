#!/bin/sh
echo dupes
