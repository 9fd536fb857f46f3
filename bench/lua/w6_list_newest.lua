-- W6: list the newest 20 (query in the URL).
dofile("common.lua")
static_request("GET")
