-- W1: create one record (POST, the same body each time).
dofile("common.lua")
static_request("POST")
