-- W3: list 20 with score > 500, sorted by score descending (query in the URL).
dofile("common.lua")
static_request("GET")
