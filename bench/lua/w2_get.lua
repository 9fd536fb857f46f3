-- W2: get one record by id, rotating over the seeded ids.
dofile("common.lua")
rotating_request("GET")
