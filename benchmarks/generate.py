#!/usr/bin/env python3
"""Synthetic multi-source patient records with the hard cases a master patient index meets.

    python benchmarks/generate.py OUT_DIR --records N [--seed S] [--sources K]

writes OUT_DIR/records.csv (the canonical record contract, see CONTRACT.md) and
OUT_DIR/truth.csv (record_id,person_id,category).  In process, `generate(n, seed, n_sources)`
returns the two tables as DataFrames, and `simulate(...)` also returns the person table.

The simulated world: households of a US metro area (plus some people from elsewhere) with
skewed name frequencies, shared addresses and home phones; every person has 1-4 records in
K hospital systems, each with its own formatting habits (date, sex, SSN, phone and address
formats, casing, accents, suffix handling, newborn placeholder names, field capture rates),
and per-record noise (typos, nicknames, missing fields, swapped fields, digit slips, stale
addresses).  Hard cases are built on purpose and labelled in truth.csv `category`; all the
persons of one case carry the same label, so a scorer counts false merges between them:

    twin             twins: same surname, DOB, address, phone; different first name and SSN
    jr_sr            father and son with the same name and address, suffix often missing
    newborn          mother and newborn; the baby's first record has a placeholder name
    placeholder_ssn  unrelated people whose records carry placeholder SSNs (999-99-9999 ...)
    name_change      surname changes between a person's records (marriage, hyphenation)
    move             address and phone change between a person's records
    household        other members of a household sharing surname and address

All randomness comes from one numpy Generator seeded with --seed, so a seed gives
byte-identical files.  Work is vectorised over persons and records; the only Python
loops run over small subsets (typos, e-mail addresses, name changes) or per source.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import unicodedata
from dataclasses import dataclass

import numpy as np
import pandas as pd

# =============================================================================================
# Tunables
# =============================================================================================

REF_DATE = "2024-12-31"           # "today" of the simulated world (fixed for reproducibility)

# hard-case shares, as fractions of persons
TWIN_RATE = 0.03                  # persons who are one of a twin pair
JR_SR_RATE = 0.025                # persons who are the father or son of a Jr/Sr pair
NEWBORN_RATE = 0.02               # persons who are a newborn or its mother
PLACEHOLDER_SSN_RATE = 0.01       # persons whose records carry a placeholder SSN
NAME_CHANGE_RATE = 0.05           # persons whose surname changes between records
MOVE_RATE = 0.10                  # persons whose address/phone changes between records

# household structure of the ordinary households (members present in the data)
REGULAR_HH_SIZE_P = {1: 0.72, 2: 0.16, 3: 0.07, 4: 0.035, 5: 0.015}
SPOUSE_P = 0.70                   # second member of a household is a partner (else a child)
SAME_SEX_COUPLE_P = 0.04
TAKES_PARTNER_SURNAME_P = {"gen": 0.78, "hisp": 0.45, "asian": 0.55, "other": 0.6}
HYPHENATED_MARRIED_P = 0.06       # married woman uses Maiden-Married
HISPANIC_COMPOUND_CHILD_P = 0.45  # children of Hispanic families carry Paternal Maternal
ETHNIC_GROUP_P = {"gen": 0.64, "hisp": 0.19, "asian": 0.07, "other": 0.10}
OWN_FIRST_NAME_POOL_P = {"gen": 1.0, "hisp": 0.7, "asian": 0.55, "other": 0.55}
ACCENTED_SURNAME_P = 0.35         # Hispanic family whose surname is written with accents
TAIL_SURNAME_P = 0.28             # rare surnames (built from syllables) beyond the embedded list
MIDDLE_NAME_P = 0.72
TWIN_SAME_SEX_P = 0.65
TWIN_SIMILAR_NAMES_P = 0.35       # Jayden/Jaylen
TWIN_CONSECUTIVE_SSN_P = 0.30     # twins' SSNs issued one apart
NEWBORN_GETS_SSN_P = 0.5          # newborn's later records carry an SSN
NO_SSN_P = 0.04                   # persons with no SSN at all
LANDLINE_P = 0.5
MOBILE_ADULT_P = 0.93
MOBILE_TEEN_P = 0.6
EMAIL_ADULT_P = 0.62
CHILD_USES_PARENT_EMAIL_P = 0.25
REGION_P = 0.82                   # households in the home metro area (else elsewhere in the US)
APARTMENT_P = 0.24                # households living in an apartment building
HOUSEHOLDS_PER_BUILDING = 5.0

# records per person
RECORDS_PER_PERSON_P = (0.40, 0.30, 0.18, 0.12)        # 1, 2, 3, 4 records
RECORDS_FORCED_P = (0.0, 0.50, 0.30, 0.20)             # name_change / move persons (>= 2)
RECORDS_NEWBORN_P = (0.20, 0.45, 0.25, 0.10)

# per-record noise (multiplied by a source's `sloppy` factor where it is a typing error)
TYPO_P = {"first_name": 0.025, "last_name": 0.025, "middle_name": 0.01,
          "street": 0.02, "city": 0.01, "email": 0.005}
NICKNAME_P = 0.10                 # a record uses a nickname when the first name has one
FIRST_LAST_SWAP_P = 0.008
DOB_MONTH_DAY_SWAP_P = 0.008
DOB_TYPO_P = 0.008
SSN_TYPO_P = 0.01
PHONE_TYPO_P = 0.005
SEX_UNKNOWN_P = 0.01
SEX_WRONG_P = 0.002
STRAY_SPACE_P = 0.02
STRAY_PUNCT_P = 0.005
ALT_PHONE_P = 0.15                # record carries the other phone of the person
STALE_ADDRESS_P = 0.15            # a mover's record after the move still has the old address
MAIDEN_AS_MIDDLE_P = 0.10         # after a name change the maiden name lands in middle_name
PLACEHOLDER_SSN_RECORD_P = 0.8    # share of a placeholder person's records with the placeholder
OWN_PLACEHOLDER_P = 0.7           # placeholder is the source's habitual one
BASE_MISSING_P = {"dob": 0.004, "sex": 0.01, "phone": 0.04, "street": 0.02, "city": 0.01,
                  "state": 0.01, "zip": 0.02, "email": 0.0, "ssn": 0.0, "middle_name": 0.05}

CONTRACT_COLUMNS = ["record_id", "source", "first_name", "middle_name", "last_name", "suffix",
                    "dob", "sex", "ssn", "phone", "email", "street", "city", "state", "zip"]
TRUTH_COLUMNS = ["record_id", "person_id", "category"]
CATEGORIES = ("twin", "jr_sr", "newborn", "placeholder_ssn", "name_change", "move", "household")
PLACEHOLDER_SSNS = ("999999999", "000000000", "123456789", "111111111", "888888888")

# Source systems and their habits.  Fields:
#   case: title | upper | mixed | sloppy      accents: share of records keeping diacritics
#   dob:  iso | us_slash | us_slash_nopad | ymd | mdy | mon | iso_time
#   sex:  codes for (male, female, unknown)   ssn: dash | plain | mask | maskx
#   phone: paren | paren_nospace | dot | dash | e164 | plain
#   addr: default street style (0 full, 1 abbr, 2 abbr with dots, 3 '#' unit, 4 'Unit')
#   middle: full | initial | mixed | none     suffix: column | in_last | drop (+ capture rate)
#   newborn: placeholder style for a baby's first name   hyphen/apostrophe: rendering habit
#   zip: 5 | zip4 | int        state: abbr | full    placeholder: habitual placeholder SSN
#   sloppy: multiplier of typing errors      miss: per-field missing rates
SOURCE_TEMPLATES = [
    dict(name="st_marys", weight=0.26, case="title", accents=0.9, dob="iso", sex=("M", "F", "U"),
         ssn="dash", phone="paren", addr=0, middle="full", suffix="column", suffix_capture=0.8,
         newborn="baby", hyphen="keep", apostrophe="keep", zip="5", state="abbr",
         placeholder="999999999", sloppy=1.0,
         miss={"ssn": 0.08, "email": 0.3, "middle_name": 0.05}),
    dict(name="mercy_general", weight=0.21, case="upper", accents=0.0, dob="us_slash",
         sex=("male", "female", "unknown"), ssn="plain", phone="dot", addr=1, middle="initial",
         suffix="column", suffix_capture=0.6, newborn="baby", hyphen="space", apostrophe="drop",
         zip="5", state="abbr", placeholder="000000000", sloppy=1.0,
         miss={"ssn": 0.12, "email": 0.5}),
    dict(name="county_lab", weight=0.16, case="mixed", accents=0.5, dob="ymd", sex=("1", "2", "0"),
         ssn="mask", phone="e164", addr=2, middle="none", suffix="drop", suffix_capture=0.0,
         newborn="sex_only", hyphen="keep", apostrophe="keep", zip="zip4", state="abbr",
         placeholder="999999999", sloppy=1.2,
         miss={"ssn": 0.3, "email": 0.8, "street": 0.3, "city": 0.25, "state": 0.25, "zip": 0.2,
               "phone": 0.2}),
    dict(name="valley_clinic", weight=0.13, case="title", accents=0.3, dob="mdy",
         sex=("Male", "Female", "Unknown"), ssn="dash", phone="plain", addr=1, middle="initial",
         suffix="in_last", suffix_capture=0.6, newborn="baby_middle", hyphen="drop_second",
         apostrophe="space", zip="5", state="abbr", placeholder="123456789", sloppy=1.0,
         miss={"ssn": 0.45, "email": 0.2}),
    dict(name="northside_ehr", weight=0.10, case="title", accents=0.8, dob="mon", sex=("M", "F", "U"),
         ssn="dash", phone="dash", addr=3, middle="mixed", suffix="column", suffix_capture=0.7,
         newborn="bg", hyphen="keep", apostrophe="keep", zip="5", state="abbr",
         placeholder="111111111", sloppy=0.8,
         miss={"ssn": 0.06, "email": 0.4}),
    dict(name="harbor_health", weight=0.07, case="upper", accents=0.0, dob="us_slash_nopad",
         sex=("M", "F", "U"), ssn="maskx", phone="paren", addr=0, middle="mixed", suffix="column",
         suffix_capture=0.5, newborn="infant", hyphen="space", apostrophe="drop", zip="5",
         state="full", placeholder="888888888", sloppy=1.0,
         miss={"ssn": 0.2, "email": 0.6}),
    dict(name="lakeside_urgent", weight=0.05, case="sloppy", accents=0.2, dob="iso",
         sex=("m", "f", "u"), ssn="plain", phone="dot", addr=1, middle="none", suffix="drop",
         suffix_capture=0.0, newborn="baby", hyphen="concat", apostrophe="drop", zip="int",
         state="abbr", placeholder="999999999", sloppy=2.5,
         miss={"ssn": 0.6, "email": 0.7, "phone": 0.1}),
    dict(name="sunrise_family_med", weight=0.04, case="title", accents=1.0, dob="iso_time",
         sex=("M", "F", "U"), ssn="dash", phone="paren_nospace", addr=4, middle="full",
         suffix="column", suffix_capture=0.9, newborn="baby", hyphen="keep", apostrophe="keep",
         zip="5", state="abbr", placeholder="123456789", sloppy=0.7,
         miss={"ssn": 0.15, "email": 0.25}),
]

# =============================================================================================
# Embedded vocabularies (rough popularity order; weights are Zipf-like over that order)
# =============================================================================================


def _words(text: str) -> list[str]:
    """Comma-separated list -> unique items in order."""
    out: list[str] = []
    seen: set[str] = set()
    for item in text.replace("\n", ",").split(","):
        item = item.strip()
        if item and item not in seen:
            seen.add(item)
            out.append(item)
    return out


GEN_MALE = _words("""
James, Michael, Robert, John, David, William, Richard, Joseph, Thomas, Christopher, Charles,
Daniel, Matthew, Anthony, Mark, Donald, Steven, Andrew, Paul, Joshua, Kenneth, Kevin, Brian,
Timothy, Ronald, George, Jason, Edward, Jeffrey, Ryan, Jacob, Nicholas, Gary, Eric, Jonathan,
Stephen, Larry, Justin, Scott, Brandon, Benjamin, Samuel, Gregory, Alexander, Patrick, Frank,
Raymond, Jack, Dennis, Jerry, Tyler, Aaron, Adam, Nathan, Henry, Zachary, Douglas, Peter, Kyle,
Noah, Ethan, Jeremy, Christian, Walter, Keith, Austin, Roger, Terry, Sean, Gerald, Carl, Dylan,
Harold, Jordan, Jesse, Bryan, Lawrence, Arthur, Gabriel, Bruce, Logan, Billy, Joe, Alan, Juan,
Elijah, Willie, Albert, Wayne, Randy, Mason, Vincent, Liam, Roy, Bobby, Caleb, Bradley, Russell,
Lucas, Philip, Eugene, Louis, Ralph, Oliver, Aiden, Jayden, Isaac, Owen, Connor, Hunter, Landon,
Carter, Evan, Luke, Jackson, Gavin, Wyatt, Isaiah, Cameron, Adrian, Colton, Brayden, Julian,
Chase, Cole, Blake, Ian, Xavier, Nolan, Dominic, Jaxon, Tristan, Levi, Josiah, Eli, Micah, Jace,
Grayson, Bentley, Easton, Parker, Marcus, Travis, Derek, Shawn, Todd, Craig, Chad, Troy,
Curtis, Dale, Glenn, Allen, Leonard, Stanley, Earl, Jimmy, Clarence, Martin, Ernest, Phillip,
Lee, Melvin, Clifford, Leroy, Marvin, Dustin, Corey, Darnell, DeShawn, Tyrone, Jamal, Malik,
Terrell, Andre, Darius, Reginald, Cedric, Marquis, Lamar, Dwayne, Maurice, Jerome, Alvin, Calvin,
Franklin, Herbert, Wesley, Shane, Seth, Spencer, Garrett, Trevor, Mitchell, Brett, Casey,
Derrick, Victor, Francis, Theodore, Gordon, Norman, Vernon, Lloyd, Floyd, Leon, Gene, Dean,
Ray, Max, Maxwell, Miles, Jasper, Silas, Finn, Rowan, Declan, Ezra, Jonah, Asher, Kayden, Brody,
Zane, Ryder, Sawyer, Beau, Kaden, Jaylen, Braylen, Caden, Jaden, Harrison, Hudson, Lincoln,
Everett, Jude, Rhett, Emmett, Bennett, Preston, Dallas, Kendall, Quentin, Desmond, Rodney,
Ricky, Johnny, Danny, Tony, Mike, Chris, Steve, Jeff, René, André, Noël
""")

GEN_FEMALE = _words("""
Mary, Patricia, Jennifer, Linda, Elizabeth, Barbara, Susan, Jessica, Sarah, Karen, Lisa, Nancy,
Betty, Margaret, Sandra, Ashley, Kimberly, Emily, Donna, Michelle, Carol, Amanda, Dorothy,
Melissa, Deborah, Stephanie, Rebecca, Sharon, Laura, Cynthia, Kathleen, Amy, Angela, Shirley,
Anna, Brenda, Pamela, Emma, Nicole, Helen, Samantha, Katherine, Christine, Debra, Rachel,
Carolyn, Janet, Catherine, Maria, Heather, Diane, Ruth, Julie, Olivia, Joyce, Virginia,
Victoria, Kelly, Lauren, Christina, Joan, Evelyn, Judith, Megan, Andrea, Cheryl, Hannah,
Jacqueline, Martha, Gloria, Teresa, Ann, Sara, Madison, Frances, Kathryn, Janice, Jean,
Abigail, Alice, Judy, Sophia, Grace, Denise, Amber, Doris, Marilyn, Danielle, Beverly,
Isabella, Theresa, Diana, Natalie, Brittany, Charlotte, Marie, Kayla, Alexis, Lori, Ava, Mia,
Chloe, Zoë, Harper, Amelia, Ella, Avery, Lily, Addison, Aubrey, Brooklyn, Leah, Zoey, Hailey,
Layla, Aaliyah, Scarlett, Riley, Nora, Savannah, Audrey, Claire, Skylar, Paisley, Bella, Stella,
Lucy, Caroline, Madelyn, Kennedy, Peyton, Mackenzie, Kaylee, Jasmine, Destiny, Brianna,
Breanna, Jada, Imani, Shanice, Tamika, Latoya, Keisha, Ebony, Monique, Tiffany, Crystal,
Erica, Erin, Tracy, Dawn, Wendy, Tammy, Rhonda, Sherry, Bonnie, Connie, Peggy, Lois, Norma,
Phyllis, Mildred, Edna, Irene, Florence, Rose, Marjorie, Lillian, Louise, Eleanor, Josephine,
Gladys, Ethel, Agnes, Renée, Noelle, Colleen, Kristen, Kristin, Courtney, Lindsay, Allison,
Katie, Molly, Jenna, Vanessa, Veronica, Valerie, Yvonne, Joy, Holly, Tina, Paula, Robin,
Anne, Elaine, Regina, Gina, Meghan, Bethany, Haley, Taylor, Morgan, Sydney, Paige, Ariana,
Gabriella, Adriana, Alexandra, Jocelyn, Juliana, Penelope, Hazel, Violet, Aurora, Ellie,
Naomi, Ruby, Eva, Willow, Everly, Emilia, Quinn, Madeline, Julia, Lydia, Delilah, Ivy, Clara,
Vivian, Eliana, Cora, Piper, Serenity, Margot, Jordyn, Danielle, Michele, Erika, Chloé, Maya,
Lila, Ellen, Sheila, Carla, Darlene, Geraldine, Lorraine, Annette, Bridget, Deanna, Kristina
""")

HISP_MALE = _words("""
José, Juan, Luis, Carlos, Jesús, Miguel, Francisco, Jorge, Antonio, Alejandro, Pedro, Manuel,
Ricardo, Javier, Roberto, Fernando, Eduardo, Rafael, Ángel, Mario, Sergio, Raúl, Héctor, Arturo,
Alberto, Enrique, Andrés, Óscar, Víctor, Diego, Gerardo, Martín, Rubén, Ramón, Guillermo,
Julio, Alfredo, Ignacio, Armando, Salvador, Gustavo, Hugo, Rodrigo, Joaquín, Emilio, Mateo,
Santiago, Sebastián, Matías, Iván, Adrián, Esteban, Tomás, Nicolás, Ernesto, Felipe, Gilberto,
Rogelio, Agustín, Alonso, Cristian, Efraín, Jaime, Leonardo, Lorenzo, Marco, Pablo, Ramiro,
Saúl, Valentín, Jonathan, Kevin, Brandon, Christopher, Anthony, Daniel
""")

HISP_FEMALE = _words("""
María, Guadalupe, Juana, Rosa, Ana, Carmen, Margarita, Verónica, Leticia, Alejandra, Gabriela,
Adriana, Daniela, Sofía, Valentina, Camila, Lucía, Ximena, Mariana, Fernanda, Paola, Andrea,
Claudia, Silvia, Teresa, Yolanda, Sandra, Graciela, Beatriz, Lorena, Araceli, Esperanza,
Gloria, Irma, Luz, Marisol, Mercedes, Natalia, Norma, Ramona, Rocío, Rosario, Socorro, Susana,
Yesenia, Karla, Diana, Elena, Esmeralda, Jimena, Josefina, Julieta, Lourdes, Maribel, Martha,
Mónica, Noemí, Pilar, Raquel, Reyna, Xóchitl, Inés, Dolores, Consuelo, Catalina, Isabel,
Jessica, Stephanie, Jennifer, Ashley, Vanessa
""")

ASIAN_MALE = _words("""
Wei, Jun, Ming, Hao, Jian, Lei, Yong, Minh, Tuan, Duc, Huy, Quang, Thanh, Hung, Nam, Anh, Long,
Bao, Khanh, Raj, Rahul, Amit, Sanjay, Vijay, Arjun, Rohan, Vikram, Anil, Sunil, Ravi, Aditya,
Krishna, Suresh, Ramesh, Pradeep, Deepak, Ji-hoon, Min-jun, Seo-jun, Jae, Hyun, Sung, Dong,
Hiroshi, Takashi, Kenji, Haruto, Rodel, Jericho, Arnel, Romeo, Jomar, Tenzin, Sok, Kiet,
Phong, Cuong, Dat, Hieu, Tri, Vinh, Chen, Kai, Yuto, Tao
""")

ASIAN_FEMALE = _words("""
Mei, Li, Xiu, Ying, Hui, Yan, Jing, Fang, Lan, Hong, Linh, Thu, Mai, Ngoc, Huong, Trang, Hoa,
Lien, Thao, Nhung, Priya, Anjali, Pooja, Neha, Deepa, Sunita, Kavita, Lakshmi, Divya, Aarti,
Shreya, Ananya, Meera, Ji-woo, Seo-yeon, Min-ji, Hye-jin, Eun-ji, Soo-ah, Yuna, Yuki, Sakura,
Aiko, Keiko, Haruka, Maricel, Rowena, Jovelyn, Analyn, Marites, Lorna, Sreymom, Pich, Lin,
Xin, Qing, Zhen, Ling
""")

OTHER_MALE = _words("""
Mohammed, Muhammad, Ahmed, Ali, Omar, Hassan, Hussein, Ibrahim, Yusuf, Khalid, Mustafa,
Abdullah, Karim, Tariq, Samir, Walid, Nabil, Fadi, Rami, Ziad, Kwame, Kofi, Chukwuemeka,
Oluwaseun, Emeka, Tunde, Abdi, Abdirahman, Mohamed, Abdullahi, Dmitri, Sergei, Ivan,
Vladimir, Nikolai, Andrei, Oleksandr, Piotr, Tomasz, Krzysztof, Jakub, Stanislav, Giorgos,
Nikolaos, Konstantinos, Dimitrios, Björn, Søren, Lars, Stefan, Jürgen, Matthias, Luca,
Giuseppe, Giovanni, Paolo, Hakan, Mehmet, Emre, Arash, Reza, Cyrus, Farid, Yosef, Avi, Moshe,
Eitan, Noam, François, Jean-Pierre, Jean-Luc, Étienne
""")

OTHER_FEMALE = _words("""
Fatima, Aisha, Mariam, Leila, Noor, Yasmin, Zainab, Amira, Huda, Rania, Salma, Hana, Dalia,
Nadia, Samira, Amina, Halima, Hodan, Fartun, Ngozi, Chiamaka, Adaeze, Folake, Abena, Ama,
Akosua, Efua, Olga, Natasha, Svetlana, Irina, Tatiana, Anastasia, Oksana, Katarzyna, Agnieszka,
Małgorzata, Zofia, Eleni, Despina, Ingrid, Astrid, Sigrid, Greta, Gisela, Giulia, Francesca,
Chiara, Alessandra, Ayşe, Elif, Zeynep, Shirin, Parisa, Nasrin, Miriam, Rivka, Tova, Yael,
Noémie, Hélène, Anne-Marie, Marie-Claire, Brigitte, Geneviève, Zoë
""")

MIDDLE_MALE = _words("""
James, Michael, Lee, Allen, Alan, Edward, Joseph, Wayne, Ray, Lynn, Dean, Eugene, Thomas,
William, John, David, Robert, Paul, Scott, Anthony, Andrew, Matthew, Daniel, Alexander,
Christopher, Charles, Patrick, Gene, Earl, Francis, Henry, Louis, Ryan, Jacob, Ross, Dale,
Glenn, Carl, Duane, Jay, Owen, Grant, Cole, Reid, Xavier, Isaiah, Elijah, Aaron, Jose
""")

MIDDLE_FEMALE = _words("""
Marie, Ann, Lynn, Elizabeth, Rose, Nicole, Michelle, Louise, Jean, Renee, Grace, Mae, Jo, Lee,
Kay, Sue, Dawn, Elaine, Diane, Christine, Nichole, Faith, Hope, Catherine, Jane, Irene,
Lorraine, Anne, Victoria, Olivia, Claire, Alexis, Danielle, Leigh, Noelle, Denise, Suzanne,
Annette, Ruth, Helen, Frances, Kathleen, Margaret, Rae, Jade, Paige, Brooke, Mia, Sophia
""")

GEN_SURNAMES = _words("""
Smith, Johnson, Williams, Brown, Jones, Miller, Davis, Wilson, Anderson, Thomas, Taylor, Moore,
Jackson, Martin, Lee, Thompson, White, Harris, Clark, Lewis, Robinson, Walker, Young, Allen,
King, Wright, Scott, Hill, Green, Adams, Nelson, Baker, Hall, Campbell, Mitchell, Carter,
Roberts, Phillips, Evans, Turner, Parker, Collins, Edwards, Stewart, Morris, Murphy, Cook,
Rogers, Morgan, Cooper, Peterson, Reed, Bailey, Bell, Kelly, Howard, Ward, Cox, Richardson,
Wood, Watson, Brooks, Bennett, Gray, James, Hughes, Price, Sanders, Myers, Long, Ross, Foster,
Powell, Jenkins, Perry, Russell, Sullivan, Butler, Barnes, Fisher, Henderson, Coleman, Simmons,
Patterson, Jordan, Reynolds, Hamilton, Graham, Wallace, Cole, West, Woods, Owens, Marshall,
Ellis, Hayes, Alexander, Gibson, Ford, Griffin, Stone, Kennedy, Wells, Bryant, Tucker, Black,
Webb, Olson, Simpson, Hunter, Palmer, Robertson, Mason, Freeman, Dixon, Porter, Burns, Gordon,
Shaw, Holmes, Rice, Hunt, Mills, Warren, Fox, Rose, Stevens, Knight, Hicks, Payne, Pierce,
Berry, Matthews, Arnold, Wagner, Willis, Ray, Watkins, Lane, Andrews, Weaver, Dunn, Perkins,
Hudson, Spencer, Gardner, Stephens, Riley, Carpenter, Lawrence, Armstrong, Elliott, Chapman,
Hart, Lynch, Boyd, Harper, Fuller, Burke, Hanson, Day, Schmidt, Ryan, Snyder, Wheeler, Carroll,
Duncan, Bishop, Nichols, Grant, Harrison, Cunningham, Bradley, Austin, Peters, Kelley,
Franklin, Lawson, Fields, Carr, Howell, Ferguson, Barnett, Hoffman, Johnston, Banks, Meyer,
McCoy, Morrison, Hansen, Harvey, Little, Burton, Stanley, George, Jacobs, Reid, Dean, Gilbert,
Garrett, Welch, Larson, Frazier, Bowman, Fowler, Brewer, Carlson, Pearson, Holland, Douglas,
Fleming, Jensen, Byrd, Davidson, Hopkins, May, Terry, Wade, Walters, Curtis, Neal, Caldwell,
Lowe, Jennings, Graves, Horton, Shelton, Barrett, O'Brien, Sutton, Gregory, McKinney, Lucas,
Miles, Craig, Chambers, Holt, Lambert, Fletcher, Watts, Bates, Hale, Rhodes, Beck, Newman,
Haynes, McDaniel, Bush, Vaughn, Parks, Dawson, Norris, Hardy, Love, Steele, Curry, Powers,
Schultz, Barker, Page, Ball, Keller, Chandler, Weber, Leonard, Walsh, Lyons, Ramsey, Wolfe,
Schneider, Mullins, Benson, Sharp, Bowen, Daniel, Barber, Cummings, Hines, Baldwin, Griffith,
Hubbard, Reeves, Warner, Stevenson, Burgess, Tate, Cross, Garner, Mann, Mack, Moss, Thornton,
Dennis, McGee, Farmer, Glover, Manning, Cohen, Harmon, Rodgers, Robbins, Newton, Todd, Blair,
Higgins, Ingram, Reese, Cannon, Strickland, Townsend, Potter, Goodwin, Walton, Rowe, Hampton,
Patton, Swanson, Joseph, Francis, Goodman, Yates, Becker, Erickson, Hodges, Conner, Adkins,
Webster, Norman, Malone, Hammond, Flowers, Cobb, Moody, Quinn, Blake, Maxwell, Pope, Floyd,
Osborne, Paul, McCarthy, Lindsey, Gibbs, Tyler, Gross, Fitzgerald, Stokes, Doyle, Sherman,
Saunders, Wise, Gill, Greer, Simon, Waters, Ballard, Schwartz, McBride, Houston, Christensen,
Klein, Pratt, Briggs, Parsons, McLaughlin, Zimmerman, French, Buchanan, Moran, Copeland, Roy,
Pittman, Brady, McCormick, Holloway, Brock, Poole, Frank, Logan, Owen, Bass, Marsh, Drake,
Jefferson, Morton, Abbott, Sparks, Patrick, Norton, Huff, Clayton, Massey, Lloyd, Carson,
Bowers, Roberson, Barton, Lamb, Harrington, Casey, Boone, Clarke, Mathis, Singleton, Wilkins,
Cain, Bryan, Underwood, Hogan, McKenzie, Collier, Phelps, McGuire, Allison, Bridges,
Wilkerson, Nash, Summers, Atkins, Wilcox, Pitts, Conley, Burnett, Richard, Cochran, Chase,
Davenport, Hood, Gates, Clay, Sawyer, Roman, Dickerson, Hodge, Flynn, Nicholson, Monroe, Wolf,
Morrow, Kirk, Randall, Anthony, Whitaker, O'Connor, Skinner, Ware, Kirby, Huffman, Bradford,
Charles, Gilmore, O'Neal, Bruce, Lang, Combs, Kramer, Heath, Hancock, Gallagher, Gaines,
Shaffer, Short, Wiggins, Mathews, McClain, Fischer, Wall, Small, Melton, Hensley, Bond, Dyer,
Cameron, Grimes, Christian, Wyatt, Baxter, Snow, Mosley, Shepherd, Larsen, Hoover, Beasley,
Glenn, Petersen, Whitehead, Meyers, Keith, Garrison, Vincent, Shields, Horn, Savage, Olsen,
Schroeder, Hartman, Woodard, Mueller, Kemp, Booth, Calhoun, Wiley, Eaton, Cline, Harrell,
Lester, Humphrey, Parrish, Hutchinson, Hess, Dorsey, Bullock, Beard, Dalton, Vance, Rich,
Blackwell, York, Johns, Blankenship, Pruitt, Moses, Callahan, Golden, Hardin, McDowell, Carey,
Stafford, Henson, Wilkinson, Booker, Merritt, Atkinson, Orr, Decker, Hobbs, Preston, Tanner,
Knox, Stephenson, Glass, Marks, Hickman, English, Sweeney, Strong, Prince, McClure, Conway,
Walter, Roth, Maynard, Farrell, Lowery, Hurst, Nixon, Weiss, Ellison, Sloan, Winters, McLean,
Randolph, Boyer, McCall, Gentry, Kent, Ayers, Shannon, Sexton, Pace, Hull, LeBlanc, Browning,
Leach, House, Sellers, Herring, Noble, Foley, Bartlett, Landry, Durham, Walls, Barr, McKee,
Bauer, Rivers, Everett, Bradshaw, Pugh, Rush, Estes, Dodson, Morse, Sheppard, Weeks, Bean,
Barron, Livingston, Middleton, Spears, Branch, Blevins, Kerr, McConnell, Hatfield, Harding,
Ashley, Herman, Frost, Giles, Blackburn, Pennington, Woodward, Finley, McIntosh, Koch, Best,
Solomon, McCullough, Dudley, Nolan, Blanchard, Brennan, Kane, Benton, Joyce, Buckley, Haley,
Valentine, Maddox, Russo, McKnight, Buck, Moon, McMillan, Crosby, Berg, Dotson, Mays, Roach,
Church, Richmond, Meadows, Faulkner, O'Neill, Knapp, Kline, Barry, Jacobson, Gay, Avery,
Hendricks, Horne, Shepard, Hebert, Cherry, McIntyre, Whitney, Waller, Holman, Donaldson,
Terrell, Morin, Gillespie, Tillman, Sanford, Bentley, Peck, Key, Rollins, Gamble, Dickson,
Battle, Howe, Hinton, Hurley, Spence, McNeil, Case, Petty, Gould, McFarland, Sampson, Carver,
Bray, MacDonald, Stout, Hester, Dillon, Farley, Hopper, Galloway, Potts, Bernard, Joyner, Stein,
Osborn, Mercer, Bender, Rowland, Sykes, Benjamin, Travis, Pickett, Crane, Sears, Mayo, Dunlap,
Hayden, Wilder, McKay, Coffey, McCarty, Ewing, Cooley, Vaughan, Bonner, Cotton, Holder, Stark,
Ferrell, Cantrell, Fulton, Lynn, Lott, Pollard, Hooper, Burch, Mullen, Fry, Riddle, Levy, David,
Duke, O'Donnell, Guy, Michael, Britt, Frederick, Daugherty, Berger, Dillard, Alston, Jarvis,
Frye, Riggs, Chaney, Odom, Duffy, Fitzpatrick, Merrill, Mayer, Alford, McPherson, Donovan,
Albert, Cote, Reilly, Compton, Raymond, Mooney, McGowan, Craft, Cleveland, Clemons, Wynn,
Nielsen, Baird, Stanton, Snider, Bright, Witt, Stuart, Hays, Holden, Rutledge, Kinney, Clements,
Slater, Hahn, Emerson, Conrad, Burks, Delaney, Pate, Lancaster, Sweet, Justice, Tyson, Sharpe,
Whitfield, Talley, Irwin, Burris, Ratliff, McCray, Madden, Kaufman, Beach, Goff, Cash, Bolton,
McFadden, Levine, Good, Byers, Kirkland, Kidd, Workman, Carney, Dale, McLeod, Holcomb, England,
Finch, Head, Burt, Hendrix, Haney, Franks, Sargent, Downs, Rasmussen, Bird, Hewitt, Lindsay,
Foreman, O'Neil, Vinson, Hyde, Forbes, Gilliam, Guthrie, Wooten, Huber, Barlow, Boyle,
McMahon, Buckner, Puckett, Langley, Knowles, Cooke, Whitley, Noel, O'Malley, O'Sullivan,
O'Reilly, O'Hara, D'Angelo, D'Amico, DeAngelis, McDonald, St. John, Van Dyke, Van Buren,
VanderMeer, DeMarco, LaRue, Du Bois, McAllister, MacKenzie, Fitzsimmons, Washington, Dukes
""")

HISP_SURNAMES = _words("""
Garcia, Rodriguez, Martinez, Hernandez, Lopez, Gonzalez, Perez, Sanchez, Ramirez, Torres,
Flores, Rivera, Gomez, Diaz, Reyes, Morales, Cruz, Ortiz, Gutierrez, Chavez, Ramos, Ruiz,
Alvarez, Mendoza, Castillo, Jimenez, Vasquez, Moreno, Herrera, Medina, Aguilar, Garza, Castro,
Vargas, Fernandez, Guzman, Munoz, Mendez, Salazar, Soto, Delgado, Pena, Rios, Alvarado,
Sandoval, Contreras, Valdez, Guerrero, Ortega, Estrada, Nunez, Maldonado, Vega, Vazquez,
Santiago, Dominguez, Espinoza, Silva, Padilla, Marquez, Cortez, Rojas, Acosta, Figueroa, Luna,
Juarez, Navarro, Campos, Molina, Avila, Ayala, Mejia, Carrillo, Duran, Santos, Salinas, Robles,
Solis, Lara, Cervantes, Aguirre, Deleon, Ochoa, Miranda, Cardenas, Trujillo, Velasquez,
Fuentes, Cabrera, Leon, Rivas, Montoya, Calderon, Colon, Serrano, Gallegos, Rosales, Castaneda,
Villarreal, Guerra, Trevino, Pacheco, Velez, Zamora, Valencia, Suarez, Camacho, Mercado,
Barrera, Franco, Acevedo, Sosa, Macias, Rosario, Valenzuela, Cantu, Santana, Bautista, Ibarra,
Mora, De La Cruz, Del Rosario, De Jesus, Quintero, Beltran, Orozco, Zuniga, Esquivel, Arellano,
Villanueva, Escobar, Galvan, Pineda, Cisneros, Montes, Lozano, Tapia, Rangel, Huerta, Cuevas,
Meza, Quiroz, Hidalgo, Olvera, Bravo, Benitez, Pizarro, Cordova, Ibanez, De Los Santos
""")

# accent-bearing spellings of some Hispanic surnames (used by a share of families)
ACCENTED = {
    "Garcia": "García", "Rodriguez": "Rodríguez", "Martinez": "Martínez", "Hernandez": "Hernández",
    "Lopez": "López", "Gonzalez": "González", "Perez": "Pérez", "Sanchez": "Sánchez",
    "Ramirez": "Ramírez", "Gomez": "Gómez", "Diaz": "Díaz", "Gutierrez": "Gutiérrez",
    "Chavez": "Chávez", "Alvarez": "Álvarez", "Jimenez": "Jiménez", "Vasquez": "Vásquez",
    "Fernandez": "Fernández", "Guzman": "Guzmán", "Munoz": "Muñoz", "Mendez": "Méndez",
    "Pena": "Peña", "Nunez": "Núñez", "Vazquez": "Vázquez", "Dominguez": "Domínguez",
    "Marquez": "Márquez", "Juarez": "Juárez", "Avila": "Ávila", "Mejia": "Mejía", "Duran": "Durán",
    "Solis": "Solís", "Cardenas": "Cárdenas", "Velasquez": "Velásquez", "Leon": "León",
    "Calderon": "Calderón", "Colon": "Colón", "Castaneda": "Castañeda", "Trevino": "Treviño",
    "Velez": "Vélez", "Suarez": "Suárez", "Macias": "Macías", "Beltran": "Beltrán",
    "Zuniga": "Zúñiga", "Galvan": "Galván", "Benitez": "Benítez", "Ibanez": "Ibáñez",
    "Cordova": "Córdova", "De Jesus": "De Jesús",
}

ASIAN_SURNAMES = _words("""
Nguyen, Tran, Le, Pham, Huynh, Hoang, Phan, Vu, Vo, Dang, Bui, Do, Ho, Ngo, Duong, Ly, Truong,
Dinh, Lam, Luong, Kim, Lee, Park, Choi, Jung, Kang, Cho, Yoon, Jang, Lim, Han, Shin, Seo, Kwon,
Hwang, Ahn, Song, Yoo, Hong, Chen, Wang, Li, Zhang, Liu, Yang, Huang, Zhao, Wu, Zhou, Xu, Sun,
Ma, Zhu, Hu, Guo, He, Lin, Luo, Gao, Zheng, Liang, Xie, Tang, Feng, Deng, Cao, Peng, Zeng, Xiao,
Tian, Dong, Pan, Yuan, Cai, Jiang, Yu, Du, Ye, Cheng, Wei, Su, Lu, Ding, Shen, Yao, Chan,
Wong, Cheung, Leung, Ng, Chow, Lau, Tse, Chu, Fong, Patel, Shah, Singh, Kumar, Sharma, Gupta,
Mehta, Desai, Reddy, Rao, Iyer, Nair, Menon, Joshi, Kapoor, Malhotra, Agarwal, Bhatt, Chaudhry,
Khan, Chowdhury, Das, Banerjee, Mukherjee, Ghosh, Sato, Suzuki, Takahashi, Tanaka, Watanabe,
Ito, Yamamoto, Nakamura, Kobayashi, Kato, Yoshida, Yamada, Santos, Reyes, Dela Cruz, Bautista,
Aquino, Manalo, Tolentino, Pascual, Soriano, Ocampo, Vang, Xiong, Thao, Lor, Moua, Her,
Chang, Vue
""")

OTHER_SURNAMES = _words("""
Ali, Ahmed, Hassan, Hussein, Mohamed, Abdi, Omar, Ibrahim, Yusuf, Farah, Warsame, Abdullah,
Haddad, Khoury, Nassar, Saleh, Mansour, Aziz, Rahman, Hamdan, Darwish, Abboud, Khalil, Karimi,
Hosseini, Ahmadi, Rezaei, Mohammadi, Tehrani, Okafor, Okonkwo, Adeyemi, Mensah, Owusu, Asante,
Boateng, Diallo, Traore, Kamara, Mwangi, Otieno, Tesfaye, Bekele, Haile, Girma, Kowalski,
Nowak, Wiśniewski, Wojcik, Kaminski, Lewandowski, Zielinski, Szymanski, Kozlowski, Jankowski,
Ivanov, Petrov, Smirnov, Popov, Volkov, Kuznetsov, Sokolov, Novak, Horvath, Nagy, Kovacs,
Szabo, Toth, Papadopoulos, Georgiou, Pappas, Nikolaidis, Müller, Fischer, Weber, Becker,
Hoffmann, Schäfer, Koch, Richter, Klein, Wolf, Schröder, Neumann, Schwarz, Zimmermann, Braun,
Krüger, Hofmann, Hartmann, Lange, Schmitt, Werner, Krause, Meier, Lehmann, Rossi, Russo,
Ferrari, Esposito, Bianchi, Romano, Colombo, Ricci, Marino, Greco, Bruno, Gallo, Conti,
De Luca, Costa, Giordano, Mancini, Rizzo, Lombardi, Moretti, Dell'Aquila, D'Souza, Pereira,
Oliveira, Ferreira, Almeida, Carvalho, Sousa, Gonçalves, Andersen, Johansson, Larsson,
Nilsson, Eriksson, Lindqvist, Björk, Sørensen, Levi, Friedman, Katz, Goldberg, Rosenberg,
Shapiro, Kaplan, Greenberg, Weinstein, Yılmaz, Kaya, Demir, Şahin, Çelik, Öztürk, Dubois,
Lefebvre, Moreau, Fournier, Girard, Bélanger, Côté, Gagnon, Tremblay, Lévesque, Bouchard,
Pelletier, Gauthier
""")

# syllables for rare surnames (the long tail of real surname distributions)
TAIL_HEADS = _words("""
Ash, Bal, Bar, Bel, Ber, Black, Brad, Bran, Brig, Bur, Cal, Cam, Car, Chal, Clan, Cor, Dal, Dar,
Del, Dun, El, Fair, Far, Fen, Gal, Gar, Gold, Gren, Hal, Har, Hath, Hol, Kel, Ken, Kin, Lan, Lind,
Mar, Mel, Mer, Mor, Nor, Pem, Pen, Ral, Red, Ros, Sal, Sel, Stan, Stra, Sum, Tal, Thorn, Tre,
Van, Wal, Wen, Whit, Wick, Win, Zel, Kos, Var, Mol, Pol, Tor, Ven, Lor, Quen
""")
TAIL_MIDS = ["", "", "", "a", "e", "i", "o", "en", "er", "an", "in", "el"]
TAIL_TAILS = _words("""
ley, ton, wick, man, berg, stein, ford, field, son, sky, ov, ini, elli, ard, er, well, mont,
ridge, ing, by, ez, ian, opoulos, escu, ak, worth, dale, more, hurst, land, burn, ett, ow, ers,
ich, ski, ova, berger, holm, gren
""")

FIRST_POOLS = {("gen", 0): GEN_MALE, ("gen", 1): GEN_FEMALE, ("hisp", 0): HISP_MALE,
               ("hisp", 1): HISP_FEMALE, ("asian", 0): ASIAN_MALE, ("asian", 1): ASIAN_FEMALE,
               ("other", 0): OTHER_MALE, ("other", 1): OTHER_FEMALE}
SURNAME_POOLS = {"gen": GEN_SURNAMES, "hisp": HISP_SURNAMES, "asian": ASIAN_SURNAMES,
                 "other": OTHER_SURNAMES}
GROUPS = list(ETHNIC_GROUP_P)

# similar-sounding names for twins: same-sex pairs and boy/girl pairs
TWIN_PAIRS_MALE = [("Jayden", "Jaylen"), ("Caden", "Jaden"), ("Brayden", "Braylen"),
                   ("Carson", "Carter"), ("Ethan", "Evan"), ("Logan", "Landon"), ("Aaron", "Adam"),
                   ("Jacob", "Joshua"), ("Kyle", "Cole"), ("Daniel", "David"),
                   ("Matthew", "Mark"), ("Jordan", "Justin"), ("Julian", "Julius"),
                   ("Elijah", "Isaiah"), ("Nathan", "Nolan"), ("Ryan", "Bryan"),
                   ("Kevin", "Kelvin"), ("Mason", "Madden"), ("Tyler", "Taylor")]
TWIN_PAIRS_FEMALE = [("Emma", "Emily"), ("Madison", "Mackenzie"), ("Ava", "Ella"),
                     ("Hailey", "Hannah"), ("Kayla", "Kaylee"), ("Brianna", "Breanna"),
                     ("Abigail", "Addison"), ("Anna", "Hannah"), ("Mia", "Maya"),
                     ("Chloe", "Zoe"), ("Isabel", "Isabella"), ("Ashley", "Amber"),
                     ("Jessica", "Jennifer"), ("Lily", "Lila"), ("Mary", "Maria"),
                     ("Jasmine", "Jazmin"), ("Olivia", "Sophia")]
TWIN_PAIRS_MIXED = [("Jordan", "Jordyn"), ("Tyler", "Taylor"), ("Daniel", "Danielle"),
                    ("Michael", "Michelle"), ("Eric", "Erica"), ("Paul", "Paula"),
                    ("Adrian", "Adriana"), ("Alexander", "Alexandra"), ("Christian", "Christina"),
                    ("Gabriel", "Gabriela"), ("Julian", "Juliana"), ("Mason", "Madison")]

NICKNAMES = {
    "William": ["Bill", "Will", "Billy", "Willie"], "Robert": ["Bob", "Rob", "Bobby", "Robbie"],
    "Richard": ["Rick", "Rich", "Dick", "Ricky"], "James": ["Jim", "Jimmy", "Jamie"],
    "John": ["Jack", "Johnny"], "Michael": ["Mike", "Mikey", "Mick"], "Joseph": ["Joe", "Joey"],
    "Thomas": ["Tom", "Tommy"], "Charles": ["Charlie", "Chuck", "Chas"],
    "Christopher": ["Chris", "Topher"], "Daniel": ["Dan", "Danny"], "Matthew": ["Matt"],
    "Anthony": ["Tony"], "Donald": ["Don", "Donnie"], "Steven": ["Steve"],
    "Stephen": ["Steve"], "Andrew": ["Andy", "Drew"], "Joshua": ["Josh"],
    "Kenneth": ["Ken", "Kenny"], "Timothy": ["Tim", "Timmy"], "Ronald": ["Ron", "Ronnie"],
    "Edward": ["Ed", "Eddie", "Ted"], "Jeffrey": ["Jeff"], "Jacob": ["Jake"],
    "Nicholas": ["Nick", "Nicky"], "Jonathan": ["Jon"], "Lawrence": ["Larry"],
    "Benjamin": ["Ben", "Benny"], "Samuel": ["Sam", "Sammy"], "Gregory": ["Greg"],
    "Alexander": ["Alex", "Xander"], "Patrick": ["Pat"], "Frank": ["Frankie"],
    "Raymond": ["Ray"], "Dennis": ["Denny"], "Gerald": ["Jerry"], "Zachary": ["Zach", "Zack"],
    "Douglas": ["Doug"], "Peter": ["Pete"], "Walter": ["Walt"], "Harold": ["Hal", "Harry"],
    "Arthur": ["Art"], "Gabriel": ["Gabe"], "Albert": ["Al", "Bert"], "Vincent": ["Vince"],
    "Russell": ["Russ"], "Philip": ["Phil"], "Phillip": ["Phil"], "Eugene": ["Gene"],
    "Louis": ["Lou"], "Bradley": ["Brad"], "Theodore": ["Ted", "Teddy", "Theo"],
    "Frederick": ["Fred"], "Leonard": ["Len", "Lenny"], "Clifford": ["Cliff"],
    "Mitchell": ["Mitch"], "Nathan": ["Nate"], "Isaac": ["Ike"], "Maxwell": ["Max"],
    "Elizabeth": ["Liz", "Beth", "Betty", "Lizzie", "Eliza"], "Margaret": ["Maggie", "Peggy", "Meg"],
    "Katherine": ["Kate", "Kathy", "Katie"], "Catherine": ["Cathy", "Cat"],
    "Kathleen": ["Kathy", "Kate"], "Jennifer": ["Jen", "Jenny"], "Jessica": ["Jess", "Jessie"],
    "Patricia": ["Pat", "Patty", "Trish"], "Deborah": ["Debbie", "Deb"],
    "Debra": ["Debbie", "Deb"], "Susan": ["Sue", "Susie"], "Barbara": ["Barb"],
    "Rebecca": ["Becky", "Becca"], "Samantha": ["Sam", "Sammy"], "Christine": ["Chris"],
    "Christina": ["Tina", "Chris"], "Pamela": ["Pam"], "Cynthia": ["Cindy"],
    "Stephanie": ["Steph"], "Victoria": ["Vicky", "Tori"], "Alexandra": ["Alex", "Lexi"],
    "Abigail": ["Abby"], "Dorothy": ["Dot", "Dottie"], "Judith": ["Judy"],
    "Jacqueline": ["Jackie"], "Theresa": ["Terri", "Tess"], "Teresa": ["Terri"],
    "Virginia": ["Ginny"], "Frances": ["Fran"], "Josephine": ["Jo", "Josie"],
    "Madeline": ["Maddie"], "Madison": ["Maddie"], "Natalie": ["Nat"], "Kimberly": ["Kim"],
    "Melissa": ["Missy", "Mel"], "Amanda": ["Mandy"], "Gabriella": ["Gabby"],
    "Isabella": ["Bella", "Izzy"], "Eleanor": ["Ellie", "Nora"], "Penelope": ["Penny"],
    "Valerie": ["Val"], "Veronica": ["Ronnie"], "Sandra": ["Sandy"], "Angela": ["Angie"],
    "José": ["Pepe", "Joe"], "Francisco": ["Paco", "Pancho", "Frank"], "Jesús": ["Chuy"],
    "Guadalupe": ["Lupe"], "Ignacio": ["Nacho"], "Roberto": ["Beto"], "Alberto": ["Beto"],
    "Eduardo": ["Lalo"], "Enrique": ["Kike"], "Alejandro": ["Alex"], "Antonio": ["Tony"],
    "Manuel": ["Manny"], "Rafael": ["Rafa"], "María": ["Mari"], "Margarita": ["Maggie"],
    "Mohammed": ["Mo"], "Muhammad": ["Mo"], "Dmitri": ["Dima"], "Aleksandr": ["Sasha"],
    "Anastasia": ["Nastya", "Stacy"], "Giuseppe": ["Joe"], "Giovanni": ["John"],
}

STREET_NAMES = _words("""
Main, Oak, Pine, Maple, Cedar, Elm, Washington, Lake, Hill, Park, Walnut, Sunset, Lincoln,
Jackson, Church, Highland, River, Spring, Franklin, Jefferson, Madison, Meadow, Forest, Willow,
Ridge, Chestnut, Adams, Center, Mill, Union, Broad, Market, Water, Front, High, School, Prospect,
Pleasant, Cherry, Dogwood, Hickory, Magnolia, Birch, Sycamore, Spruce, Laurel, Poplar, Aspen,
Valley View, Martin Luther King Jr, Cesar Chavez, Kennedy, Roosevelt, Wilson, Grant, Monroe,
Hamilton, Cleveland, Harrison, Fairview, Greenwood, Woodland, Lakeview, Riverside, Hillcrest,
Orchard, Country Club, Mountain View, Bay, Harbor, College, University, Academy, Railroad,
Depot, Bridge, Canal, Ferry, King, Queen, Cambridge, Oxford, Windsor, Victoria, Grove, Garden,
Rose, Lilac, Peachtree, Palm, Mesa, Sierra, Vista, Del Mar, El Camino Real, San Pedro,
Santa Rosa, Buena Vista, Alameda, Rio Grande, Colonial, Liberty, Independence, Heritage,
Eagle, Hawk, Falcon, Cardinal, Robin, Bluebird, Quail, Deer, Fox, Bear Creek, Mill Creek,
Cedar Creek, Stone, Granite, Quarry, Old Mill, Old Farm, Meadowbrook, Brookside, Springfield,
Glen, Briarwood, Rolling Hills, Sunnyside, Evergreen, Pinecrest, Ivy, Holly, Juniper, Cypress,
Redwood, Lexington, Concord, Princeton, Dartmouth, Cleveland, Morse, Karl, Livingston, Hudson,
Summit, Olentangy River, Sawmill, Refugee, Kenny, Henderson, Bethel, Schrock, Polaris
""") + ["1st", "2nd", "3rd", "4th", "5th", "6th", "7th", "8th", "9th", "10th", "11th", "12th",
        "14th", "16th", "18th", "20th", "21st", "23rd", "27th", "31st"]

# (full, abbreviation, weight)
STREET_TYPES = [("Street", "St", 0.26), ("Avenue", "Ave", 0.18), ("Road", "Rd", 0.13),
                ("Drive", "Dr", 0.13), ("Lane", "Ln", 0.06), ("Court", "Ct", 0.06),
                ("Boulevard", "Blvd", 0.04), ("Place", "Pl", 0.03), ("Way", "Way", 0.04),
                ("Circle", "Cir", 0.02), ("Terrace", "Ter", 0.015), ("Parkway", "Pkwy", 0.015),
                ("Highway", "Hwy", 0.01), ("Trail", "Trl", 0.02)]
DIRECTIONS = [("North", "N"), ("South", "S"), ("East", "E"), ("West", "W")]

STATES = {"AK": "Alaska", "AL": "Alabama", "AZ": "Arizona", "CA": "California", "CO": "Colorado",
          "DC": "District of Columbia", "FL": "Florida", "GA": "Georgia", "HI": "Hawaii",
          "IL": "Illinois", "IN": "Indiana", "KY": "Kentucky", "LA": "Louisiana",
          "MA": "Massachusetts", "MD": "Maryland", "MI": "Michigan", "MN": "Minnesota",
          "MO": "Missouri", "NC": "North Carolina", "NJ": "New Jersey", "NM": "New Mexico",
          "NV": "Nevada", "NY": "New York", "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon",
          "PA": "Pennsylvania", "RI": "Rhode Island", "TN": "Tennessee", "TX": "Texas",
          "UT": "Utah", "VA": "Virginia", "WA": "Washington", "WI": "Wisconsin",
          "WV": "West Virginia", "CT": "Connecticut", "IA": "Iowa", "ID": "Idaho"}

# home metro area: (city, state, first zip, zip span, area code, weight)
REGION_CITIES = [
    ("Columbus", "OH", 43201, 40, 614, 0.52), ("Dublin", "OH", 43016, 2, 614, 0.04),
    ("Westerville", "OH", 43081, 2, 614, 0.04), ("Grove City", "OH", 43123, 1, 614, 0.035),
    ("Hilliard", "OH", 43026, 1, 614, 0.03), ("Reynoldsburg", "OH", 43068, 1, 614, 0.03),
    ("Gahanna", "OH", 43230, 1, 614, 0.03), ("Upper Arlington", "OH", 43221, 1, 614, 0.025),
    ("Delaware", "OH", 43015, 1, 740, 0.03), ("Newark", "OH", 43055, 3, 740, 0.04),
    ("Lancaster", "OH", 43130, 1, 740, 0.035), ("Marysville", "OH", 43040, 1, 937, 0.02),
    ("Worthington", "OH", 43085, 1, 614, 0.02), ("Pickerington", "OH", 43147, 1, 614, 0.02),
    ("Canal Winchester", "OH", 43110, 1, 614, 0.01), ("Circleville", "OH", 43113, 1, 740, 0.015),
    ("London", "OH", 43140, 1, 740, 0.01), ("Powell", "OH", 43065, 1, 614, 0.015),
]
# elsewhere in the US (first zip may have a leading zero)
NATIONAL_CITIES = [
    ("New York", "NY", 10001, 40, 212, 0.08), ("Brooklyn", "NY", 11201, 30, 718, 0.05),
    ("Los Angeles", "CA", 90001, 60, 213, 0.07), ("Chicago", "IL", 60601, 60, 312, 0.06),
    ("Houston", "TX", 77001, 90, 713, 0.05), ("Phoenix", "AZ", 85001, 50, 602, 0.03),
    ("Philadelphia", "PA", 19102, 50, 215, 0.03), ("San Antonio", "TX", 78201, 60, 210, 0.03),
    ("San Diego", "CA", 92101, 60, 619, 0.03), ("Dallas", "TX", 75201, 50, 214, 0.03),
    ("Austin", "TX", 78701, 50, 512, 0.02), ("Jacksonville", "FL", 32202, 50, 904, 0.02),
    ("Charlotte", "NC", 28202, 80, 704, 0.02), ("Indianapolis", "IN", 46201, 60, 317, 0.02),
    ("Seattle", "WA", 98101, 80, 206, 0.02), ("Denver", "CO", 80202, 50, 303, 0.02),
    ("Washington", "DC", 20001, 30, 202, 0.02), ("Boston", "MA", 2108, 30, 617, 0.02),
    ("Nashville", "TN", 37201, 30, 615, 0.02), ("Detroit", "MI", 48201, 40, 313, 0.02),
    ("Portland", "OR", 97201, 30, 503, 0.015), ("Las Vegas", "NV", 89101, 50, 702, 0.015),
    ("Louisville", "KY", 40202, 40, 502, 0.015), ("Baltimore", "MD", 21201, 30, 410, 0.015),
    ("Milwaukee", "WI", 53202, 30, 414, 0.01), ("Albuquerque", "NM", 87102, 20, 505, 0.01),
    ("Atlanta", "GA", 30303, 40, 404, 0.02), ("Miami", "FL", 33125, 50, 305, 0.02),
    ("Minneapolis", "MN", 55401, 30, 612, 0.01), ("New Orleans", "LA", 70112, 20, 504, 0.01),
    ("Cleveland", "OH", 44102, 40, 216, 0.03), ("Cincinnati", "OH", 45202, 40, 513, 0.03),
    ("Dayton", "OH", 45402, 30, 937, 0.02), ("Toledo", "OH", 43604, 20, 419, 0.015),
    ("Akron", "OH", 44301, 20, 330, 0.015), ("Pittsburgh", "PA", 15201, 30, 412, 0.015),
    ("St. Louis", "MO", 63101, 40, 314, 0.01), ("Newark", "NJ", 7102, 10, 973, 0.01),
    ("Providence", "RI", 2903, 10, 401, 0.005), ("Hartford", "CT", 6103, 10, 860, 0.005),
    ("Salt Lake City", "UT", 84101, 20, 801, 0.005), ("Boise", "ID", 83702, 10, 208, 0.005),
    ("Des Moines", "IA", 50309, 10, 515, 0.005), ("Charleston", "WV", 25301, 10, 304, 0.005),
    ("Oklahoma City", "OK", 73102, 30, 405, 0.01), ("Honolulu", "HI", 96813, 10, 808, 0.005),
    ("Anchorage", "AK", 99501, 10, 907, 0.003), ("Birmingham", "AL", 35203, 20, 205, 0.007),
]

EMAIL_DOMAINS = [("gmail.com", 0.44), ("yahoo.com", 0.15), ("hotmail.com", 0.09),
                 ("outlook.com", 0.08), ("icloud.com", 0.07), ("aol.com", 0.05),
                 ("comcast.net", 0.03), ("att.net", 0.03), ("msn.com", 0.02), ("live.com", 0.02),
                 ("protonmail.com", 0.01), ("osu.edu", 0.01)]

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
SURNAME_PARTICLES = {"de", "del", "la", "las", "los", "van", "von", "der", "du", "da", "di",
                     "st.", "st", "dela", "le"}

# roles inside a household
HEAD, SPOUSE, CHILD, TWIN_A, TWIN_B, SR, JR, MOTHER, NEWBORN = range(9)
ROLE_NAMES = ["head", "spouse", "child", "twin", "twin", "father", "son", "mother", "newborn"]
# person category codes (index into CATEGORIES; -1 none)
C_TWIN, C_JR_SR, C_NEWBORN, C_PLACEHOLDER, C_NAME_CHANGE, C_MOVE, C_HOUSEHOLD = range(7)

# =============================================================================================
# Small helpers
# =============================================================================================


def _zipf(n: int, offset: float = 6.0, s: float = 1.0) -> np.ndarray:
    w = 1.0 / (np.arange(1, n + 1) + offset) ** s
    return w / w.sum()


def _pick(rng: np.random.Generator, values: list, size: int, p: np.ndarray | None = None) -> np.ndarray:
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return arr[rng.choice(len(values), size=size, p=p)]


def _sample_weighted(rng: np.random.Generator, weights: np.ndarray, k: int) -> np.ndarray:
    """k distinct indices drawn with probability proportional to weights (exponential keys)."""
    k = min(k, int((weights > 0).sum()))
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    keys = np.full(len(weights), np.inf)
    ok = weights > 0
    keys[ok] = rng.exponential(size=int(ok.sum())) / weights[ok]
    return np.sort(np.argpartition(keys, k - 1)[:k])


def _obj(n: int, fill: str = "") -> np.ndarray:
    a = np.empty(n, dtype=object)
    a[:] = fill
    return a


_ASCII_CACHE: dict[str, str] = {}


def _ascii(s: str) -> str:
    """Drop diacritics (José -> Jose, Łódź -> Lodz)."""
    r = _ASCII_CACHE.get(s)
    if r is None:
        t = s.replace("ł", "l").replace("Ł", "L").replace("ø", "o").replace("Ø", "O").replace("ı", "i")
        t = t.replace("ß", "ss")
        r = "".join(c for c in unicodedata.normalize("NFKD", t) if not unicodedata.combining(c))
        _ASCII_CACHE[s] = r
    return r


def _map_unique(values: np.ndarray, fn) -> np.ndarray:
    """Apply fn per distinct value (names repeat a lot)."""
    codes, uniq = pd.factorize(values, use_na_sentinel=False)
    mapped = np.empty(len(uniq), dtype=object)
    mapped[:] = [fn(u) for u in uniq]
    return mapped[codes]


_ROWS = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]
_NEIGHBOURS: dict[str, str] = {}
for _r, _row in enumerate(_ROWS):
    for _c, _ch in enumerate(_row):
        _nb = []
        for _dr in (-1, 0, 1):
            for _dc in (-1, 0, 1):
                _rr, _cc = _r + _dr, _c + _dc
                if (_dr or _dc) and 0 <= _rr < 3 and 0 <= _cc < len(_ROWS[_rr]):
                    _nb.append(_ROWS[_rr][_cc])
        _NEIGHBOURS[_ch] = "".join(_nb)
_DIGIT_NEIGHBOURS = {"0": "98", "1": "27", "2": "13", "3": "24", "4": "35", "5": "46",
                     "6": "57", "7": "68", "8": "79", "9": "80"}


def _typo(s: str, u0: float, u1: float, u2: float) -> str:
    """One keyboard slip: substitution (neighbouring key), transposition, deletion or doubling."""
    n = len(s)
    if n < 2:
        return s
    i = min(int(u1 * n), n - 1)
    if u0 < 0.4:
        ch = s[i]
        pool = _NEIGHBOURS.get(ch.lower()) or _DIGIT_NEIGHBOURS.get(ch)
        if not pool:
            return s
        new = pool[min(int(u2 * len(pool)), len(pool) - 1)]
        if ch.isupper():
            new = new.upper()
        return s[:i] + new + s[i + 1:]
    if u0 < 0.7:
        i = min(i, n - 2)
        return s[:i] + s[i + 1] + s[i] + s[i + 2:]
    if u0 < 0.9:
        return s[:i] + s[i + 1:]
    return s[:i] + s[i] + s[i:]


def _apply_typos(rng: np.random.Generator, arr: np.ndarray, rate: np.ndarray | float) -> None:
    """In place: give a share of the non-empty values one typo."""
    hit = np.flatnonzero(rng.random(len(arr)) < rate)
    if len(hit) == 0:
        return
    u = rng.random((len(hit), 3))
    vals = arr[hit]
    arr[hit] = [_typo(v, a, b, c) if v else v for v, (a, b, c) in zip(vals, u)]


def _stray_space(v: str, h: float) -> str:
    if not v:
        return v
    if h < 0.35:
        return " " + v
    if h < 0.7:
        return v + " "
    return v.replace(" ", "  ", 1) if " " in v else v + "  "


def _days_in_month(y: np.ndarray, m: np.ndarray) -> np.ndarray:
    base = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])[np.clip(m, 1, 12) - 1]
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    return base + ((m == 2) & leap)


def _tail_surnames(rng: np.random.Generator, k: int) -> np.ndarray:
    h = rng.integers(0, len(TAIL_HEADS), k)
    m = rng.integers(0, len(TAIL_MIDS), k)
    t = rng.integers(0, len(TAIL_TAILS), k)
    out = _obj(k)
    out[:] = [TAIL_HEADS[a] + TAIL_MIDS[b] + TAIL_TAILS[c] for a, b, c in zip(h, m, t)]
    return out


def _surnames(rng: np.random.Generator, groups: np.ndarray) -> np.ndarray:
    """One surname per entry of `groups` (group codes), Zipf within the group's list, plus a tail."""
    out = _obj(len(groups))
    for g, name in enumerate(GROUPS):
        idx = np.flatnonzero(groups == g)
        if len(idx):
            pool = SURNAME_POOLS[name]
            out[idx] = _pick(rng, pool, len(idx), _zipf(len(pool), offset=10.0))
    tail = np.flatnonzero(rng.random(len(groups)) < TAIL_SURNAME_P)
    out[tail] = _tail_surnames(rng, len(tail))
    return out


def _first_names(rng: np.random.Generator, groups: np.ndarray, sex: np.ndarray) -> np.ndarray:
    out = _obj(len(groups))
    own = rng.random(len(groups)) < np.array([OWN_FIRST_NAME_POOL_P[g] for g in GROUPS])[groups]
    for g, name in enumerate(GROUPS):
        for s in (0, 1):
            idx = np.flatnonzero((groups == g) & (sex == s) & own)
            if len(idx):
                pool = FIRST_POOLS[(name, s)]
                out[idx] = _pick(rng, pool, len(idx), _zipf(len(pool), offset=6.0))
    for s in (0, 1):
        idx = np.flatnonzero((sex == s) & ~own)
        if len(idx):
            pool = FIRST_POOLS[("gen", s)]
            out[idx] = _pick(rng, pool, len(idx), _zipf(len(pool), offset=6.0))
    return out


def _middle_names(rng: np.random.Generator, groups: np.ndarray, sex: np.ndarray) -> np.ndarray:
    out = _obj(len(groups))
    has = rng.random(len(groups)) < np.where(groups == GROUPS.index("asian"), 0.4, MIDDLE_NAME_P)
    for s, pool in ((0, MIDDLE_MALE), (1, MIDDLE_FEMALE)):
        idx = np.flatnonzero(has & (sex == s))
        out[idx] = _pick(rng, pool, len(idx), _zipf(len(pool), offset=4.0))
    # Hispanic compound given names (María Guadalupe, José Luis)
    hisp = GROUPS.index("hisp")
    for s in (0, 1):
        idx = np.flatnonzero(has & (sex == s) & (groups == hisp) & (rng.random(len(groups)) < 0.6))
        pool = FIRST_POOLS[("hisp", s)]
        out[idx] = _pick(rng, pool, len(idx), _zipf(len(pool), offset=6.0))
    return out


# =============================================================================================
# Population
# =============================================================================================


@dataclass
class _Pop:
    """Person-level arrays (index = person) and address table."""
    hh: np.ndarray
    role: np.ndarray
    hh_kind: np.ndarray          # per household: 0 regular, 1 twin, 2 jr_sr, 3 newborn
    anchor: np.ndarray           # first member of the person's household
    partner: np.ndarray          # look-alike person (twin / father-son / mother-newborn), -1
    group: np.ndarray
    sex: np.ndarray              # 0 male, 1 female
    age: np.ndarray              # years (float)
    dob: np.ndarray              # datetime64[D]
    first: np.ndarray
    middle: np.ndarray
    last: np.ndarray
    maiden: np.ndarray           # own birth surname of a partner who took the family name, else ""
    suffix: np.ndarray
    ssn: np.ndarray              # int64, -1 none
    phone: np.ndarray            # int64 contact phone, -1 none
    phone_alt: np.ndarray        # int64 other phone, -1 none
    email: np.ndarray
    addr: np.ndarray             # address id
    category: np.ndarray         # int, -1 none
    n_records: np.ndarray
    # name change / move
    old_last: np.ndarray
    change_at: np.ndarray        # index of the first record with the new surname / address
    new_addr: np.ndarray
    new_phone: np.ndarray
    newborn_ssn: np.ndarray      # newborn's later records carry the SSN
    addresses: dict              # address table (columns -> arrays)


def _layout(rng: np.random.Generator, n: int, slots: list[tuple[int, float]]) -> tuple[np.ndarray, np.ndarray]:
    """n households of fixed slot structure: (role, presence probability) per slot."""
    roles = np.array([r for r, _ in slots])
    present = rng.random((n, len(slots))) < np.array([p for _, p in slots])
    hh = np.repeat(np.arange(n), len(slots)).reshape(n, len(slots))
    role = np.broadcast_to(roles, (n, len(slots)))
    return hh[present], role[present]


def _build_households(rng: np.random.Generator, n_persons: int):
    n_twin = max(1, round(TWIN_RATE * n_persons / 2))
    n_jr = max(1, round(JR_SR_RATE * n_persons / 2))
    n_nb = max(1, round(NEWBORN_RATE * n_persons / 2))
    sizes_v = np.array(list(REGULAR_HH_SIZE_P))
    sizes_p = np.array(list(REGULAR_HH_SIZE_P.values()), dtype=float)
    sizes_p /= sizes_p.sum()
    special = n_twin * 4.25 + n_jr * 3.1 + n_nb * 3.3
    n_reg = max(1, int((n_persons - special) / float(sizes_v @ sizes_p)))

    sizes = rng.choice(sizes_v, n_reg, p=sizes_p)
    hh_r = np.repeat(np.arange(n_reg), sizes)
    pos = np.arange(len(hh_r)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    has_partner = rng.random(n_reg) < SPOUSE_P
    role_r = np.where(pos == 0, HEAD, np.where((pos == 1) & has_partner[hh_r], SPOUSE, CHILD))

    parts = [(hh_r, role_r, np.zeros(n_reg, dtype=np.int8))]
    for kind, n, slots in (
        (1, n_twin, [(HEAD, 1.0), (SPOUSE, 0.7), (TWIN_A, 1.0), (TWIN_B, 1.0), (CHILD, 0.4), (CHILD, 0.15)]),
        (2, n_jr, [(SR, 1.0), (SPOUSE, 0.7), (JR, 1.0), (CHILD, 0.3), (CHILD, 0.1)]),
        (3, n_nb, [(MOTHER, 1.0), (SPOUSE, 0.7), (NEWBORN, 1.0), (CHILD, 0.45), (CHILD, 0.15)]),
    ):
        h, r = _layout(rng, n, slots)
        parts.append((h, r, np.full(n, kind, dtype=np.int8)))

    offs, hh_list, role_list, kinds = 0, [], [], []
    for h, r, k in parts:
        hh_list.append(h + offs)
        role_list.append(r)
        kinds.append(k)
        offs += len(k)
    hh = np.concatenate(hh_list)
    role = np.concatenate(role_list).astype(np.int8)
    hh_kind = np.concatenate(kinds)
    # shuffle household order (members stay contiguous and in slot order)
    perm = rng.permutation(offs)
    new_hh = perm[hh]
    order = np.argsort(new_hh, kind="stable")
    hh, role = new_hh[order], role[order]
    kind_new = np.empty_like(hh_kind)
    kind_new[perm] = hh_kind
    return hh, role, kind_new


def _region_address_table(rng: np.random.Generator, n: int, same_city: np.ndarray | None = None,
                          allow_buildings: bool = True) -> dict:
    """n addresses: house number, direction, street, type, unit, city, zip."""
    cities = REGION_CITIES + NATIONAL_CITIES
    rw = np.array([c[5] for c in REGION_CITIES])
    nw = np.array([c[5] for c in NATIONAL_CITIES])
    region = rng.random(n) < REGION_P
    city = np.where(region, rng.choice(len(REGION_CITIES), n, p=rw / rw.sum()),
                    len(REGION_CITIES) + rng.choice(len(NATIONAL_CITIES), n, p=nw / nw.sum()))
    if same_city is not None:
        keep = same_city >= 0
        city[keep] = same_city[keep]
    span = np.array([c[3] for c in cities])[city]
    zipc = np.array([c[2] for c in cities])[city] + (rng.random(n) * span).astype(np.int64)
    number = np.exp(rng.uniform(0, np.log(12000), n)).astype(np.int64) + 1
    direction = np.where(rng.random(n) < 0.12, rng.integers(0, 4, n), -1)
    street = rng.choice(len(STREET_NAMES), n, p=_zipf(len(STREET_NAMES), offset=15.0))
    tw = np.array([t[2] for t in STREET_TYPES])
    stype = rng.choice(len(STREET_TYPES), n, p=tw / tw.sum())
    unit = _obj(n)
    apt = np.flatnonzero(rng.random(n) < APARTMENT_P)
    if len(apt):
        if allow_buildings:
            # apartment households share buildings: same street address, different units
            n_b = max(1, int(len(apt) / HOUSEHOLDS_PER_BUILDING))
            b = rng.integers(0, n_b, len(apt))
            first = np.full(n_b, -1)
            first[b[::-1]] = apt[::-1]          # first household of each building defines it
            src = first[b]
            for col in (city, zipc, number, direction, street, stype):
                col[apt] = col[src]
        kind = rng.random(len(apt))
        num = rng.integers(1, 40, len(apt))
        floor_ = rng.integers(1, 9, len(apt))
        letter = rng.integers(0, 6, len(apt))
        unit[apt] = [str(a) if k < 0.5 else (f"{f}{a:02d}" if k < 0.8 else f"{f}{'ABCDEF'[l]}")
                     for k, a, f, l in zip(kind, num, floor_, letter)]
    return {"city": city, "zip": zipc, "number": number, "direction": direction,
            "street": street, "stype": stype, "unit": unit}


def _phone_numbers(rng: np.random.Generator, area: np.ndarray) -> np.ndarray:
    exch = rng.integers(200, 1000, len(area))
    exch = np.where(exch % 100 == 11, exch + 1, exch)     # no N11 exchanges
    line = rng.integers(0, 10000, len(area))
    return area.astype(np.int64) * 10_000_000 + exch * 10_000 + line


def _unique_ssns(rng: np.random.Generator, n: int) -> np.ndarray:
    def draw(k):
        area = rng.integers(1, 900, k)
        area = np.where(area == 666, 667, area)
        return area * 1_000_000 + rng.integers(1, 100, k) * 10_000 + rng.integers(1, 10_000, k)
    ssn = draw(n)
    bad = {int(p) for p in PLACEHOLDER_SSNS}
    for _ in range(20):
        dup = pd.Series(ssn).duplicated().to_numpy() | np.isin(ssn, list(bad))
        if not dup.any():
            break
        ssn[dup] = draw(int(dup.sum()))
    return ssn


def _population(rng: np.random.Generator, n_persons: int) -> _Pop:
    hh, role, hh_kind = _build_households(rng, n_persons)
    P, H = len(hh), len(hh_kind)
    hh_size = np.bincount(hh, minlength=H)
    hh_start = np.cumsum(hh_size) - hh_size
    anchor = hh_start[hh]
    idx = np.arange(P)

    def per_hh(mask: np.ndarray) -> np.ndarray:
        """Per household: index of the (first) member matching mask, -1 if none."""
        out = np.full(H, -1)
        sel = np.flatnonzero(mask)
        out[hh[sel[::-1]]] = sel[::-1]
        return out

    hh_spouse = per_hh(role == SPOUSE)
    hh_twin_a = per_hh(role == TWIN_A)
    partner = np.full(P, -1)
    for a_role, b_role in ((TWIN_A, TWIN_B), (SR, JR), (MOTHER, NEWBORN)):
        a = per_hh(role == a_role)
        b = per_hh(role == b_role)
        ok = (a >= 0) & (b >= 0)
        partner[a[ok]] = b[ok]
        partner[b[ok]] = a[ok]

    gprob = np.array([ETHNIC_GROUP_P[g] for g in GROUPS])
    hh_group = rng.choice(len(GROUPS), H, p=gprob / gprob.sum())
    group = hh_group[hh]
    # a share of partners come from another group
    mixed = (role == SPOUSE) & (rng.random(P) < 0.15)
    group = np.where(mixed, rng.choice(len(GROUPS), P, p=gprob / gprob.sum()), group)

    # --- sex
    sex = (rng.random(P) < 0.5).astype(np.int8)
    sex[(role == SR) | (role == JR)] = 0
    sex[role == MOTHER] = 1
    sp = role == SPOUSE
    same_sex = rng.random(P) < SAME_SEX_COUPLE_P
    sex[sp] = np.where(same_sex[sp], sex[anchor[sp]], 1 - sex[anchor[sp]])
    tb = np.flatnonzero(role == TWIN_B)
    ta = hh_twin_a[hh[tb]]
    sex[tb] = np.where(rng.random(len(tb)) < TWIN_SAME_SEX_P, sex[ta], 1 - sex[ta])

    # --- ages (years) and dates of birth
    has_child = np.bincount(hh, weights=(role == CHILD), minlength=H)[hh] > 0
    u = rng.random(P)
    age = np.zeros(P)
    head = role == HEAD
    kind = hh_kind[hh]
    age_single = np.where(rng.random(P) < 0.78, 18 + u * 52, 70 + u * 26)
    age[head] = np.where(has_child[head] | (kind[head] == 1), 24 + u[head] * 32, age_single[head])
    age[role == SR] = 42 + u[role == SR] * 43
    age[role == MOTHER] = 18 + u[role == MOTHER] * 26
    adult_anchor_age = age[anchor]
    gap = rng.normal(0.0, 4.0, P)
    gap = np.where(kind == 3, gap + 2.5, gap)
    age[sp] = np.clip(adult_anchor_age[sp] + gap[sp], 18, 99)
    ch = role == CHILD
    hi = np.where(kind == 3, np.minimum(18, adult_anchor_age - 17), np.minimum(30, adult_anchor_age - 17))
    lo = np.where(kind == 3, 1.0, 0.0)
    hi = np.maximum(hi, lo + 0.5)
    age[ch] = lo[ch] + u[ch] * (hi[ch] - lo[ch])
    twa = role == TWIN_A
    age[twa] = u[twa] * np.maximum(0.5, np.minimum(25, adult_anchor_age[twa] - 17))
    jr = role == JR
    age[jr] = adult_anchor_age[jr] - (20 + u[jr] * 20)
    nb = role == NEWBORN
    age[nb] = u[nb] * 3.0
    age_days = np.floor(age * 365.25).astype(np.int64)
    age_days[tb] = age_days[ta]
    age = np.where(role == TWIN_B, age[partner], age)
    ref = np.datetime64(REF_DATE, "D")
    dob = ref - age_days.astype("timedelta64[D]")

    # --- names
    hh_family = _surnames(rng, hh_group)
    hisp = GROUPS.index("hisp")
    acc = (hh_group == hisp) & (rng.random(H) < ACCENTED_SURNAME_P)
    hh_family[acc] = [ACCENTED.get(s, s) for s in hh_family[acc]]
    maiden_group = np.where(rng.random(H) < 0.85, hh_group, GROUPS.index("gen"))
    hh_maiden = _surnames(rng, maiden_group)
    acc = (maiden_group == hisp) & (rng.random(H) < ACCENTED_SURNAME_P)
    hh_maiden[acc] = [ACCENTED.get(s, s) for s in hh_maiden[acc]]
    same = hh_maiden == hh_family
    hh_maiden[same] = _surnames(rng, maiden_group[same])

    last = hh_family[hh].copy()
    maiden = _obj(P)
    # the woman of a mixed-sex couple: family name taken or kept; same-sex partner may keep own
    adult = (role == HEAD) | (role == SPOUSE) | (role == MOTHER) | (role == SR)
    spouse_of = np.where(role == SPOUSE, anchor, hh_spouse[hh])   # partner index, -1 if none
    has_couple = spouse_of >= 0
    other_sex = np.where(has_couple, sex[np.maximum(spouse_of, 0)], -1)
    wife = adult & has_couple & (sex == 1) & (other_sex == 0)
    takes = rng.random(P) < np.array([TAKES_PARTNER_SURNAME_P[g] for g in GROUPS])[group]
    kept = wife & ~takes
    last[kept] = hh_maiden[hh[kept]]
    took = wife & takes
    maiden[took] = hh_maiden[hh[took]]
    hyph = took & (rng.random(P) < HYPHENATED_MARRIED_P)
    last[hyph] = hh_maiden[hh[hyph]] + "-" + hh_family[hh[hyph]]
    ssc = (role == SPOUSE) & has_couple & (sex == other_sex) & (rng.random(P) < 0.5)
    last[ssc] = hh_maiden[hh[ssc]]
    # Hispanic children: Paternal Maternal
    hh_has_wife = np.bincount(hh, weights=wife, minlength=H) > 0
    compound_hh = (hh_group == hisp) & hh_has_wife & (rng.random(H) < HISPANIC_COMPOUND_CHILD_P)
    kid = (role == CHILD) | (role == TWIN_A) | (role == TWIN_B) | (role == NEWBORN)
    comp = kid & compound_hh[hh]
    last[comp] = hh_family[hh[comp]] + " " + hh_maiden[hh[comp]]

    first = _first_names(rng, group, sex)
    middle = _middle_names(rng, group, sex)
    # twins with similar-sounding names
    tw_sim = tb[rng.random(len(tb)) < TWIN_SIMILAR_NAMES_P]
    for b in tw_sim:
        a = partner[b]
        r = rng.random(2)
        if sex[a] == sex[b]:
            pairs = TWIN_PAIRS_MALE if sex[a] == 0 else TWIN_PAIRS_FEMALE
            x, y = pairs[int(r[0] * len(pairs))]
            if r[1] < 0.5:
                x, y = y, x
        else:
            x, y = TWIN_PAIRS_MIXED[int(r[0] * len(TWIN_PAIRS_MIXED))]
            if sex[a] == 1:
                x, y = y, x
        first[a], first[b] = x, y
    # juniors carry their father's names
    jr_idx = np.flatnonzero(jr)
    sr_idx = partner[jr_idx]
    need_mid = middle[sr_idx] == ""
    middle[sr_idx[need_mid]] = _pick(rng, MIDDLE_MALE, int(need_mid.sum()))
    first[jr_idx] = first[sr_idx]
    middle[jr_idx] = middle[sr_idx]
    last[jr_idx] = last[sr_idx]
    # no two members of a household share a first name (except Jr/Sr)
    for _ in range(8):
        dup = pd.DataFrame({"h": hh, "f": first}).duplicated().to_numpy() & ~jr
        if not dup.any():
            break
        d = np.flatnonzero(dup)
        first[d] = _first_names(rng, group[d], sex[d])
    suffix = _obj(P)
    jr_scheme = rng.random(len(jr_idx))
    suffix[sr_idx] = np.where(jr_scheme < 0.85, "Sr", "II")
    suffix[jr_idx] = np.where(jr_scheme < 0.85, "Jr", "III")
    # a few other adult men carry a suffix of their own
    lone = np.flatnonzero((sex == 0) & (age >= 18) & (suffix == "") & (rng.random(P) < 0.012))
    suffix[lone] = _pick(rng, ["Jr", "III", "II", "IV"], len(lone), np.array([0.7, 0.15, 0.12, 0.03]))

    # --- identifiers
    ssn = _unique_ssns(rng, P)
    tw_all = (role == TWIN_A) | (role == TWIN_B)
    ssn[(rng.random(P) < NO_SSN_P) & ~tw_all] = -1      # twins always have (different) SSNs
    cons = tb[rng.random(len(tb)) < TWIN_CONSECUTIVE_SSN_P]
    ok = (ssn[partner[cons]] > 0) & (ssn[partner[cons]] % 10_000 < 9_999)
    cons = cons[ok]
    cand = ssn[partner[cons]] + 1
    free = ~np.isin(cand, ssn)
    ssn[cons[free]] = cand[free]
    newborn_ssn = rng.random(P) < NEWBORN_GETS_SSN_P

    # --- addresses and phones
    addresses = _region_address_table(rng, H)
    cities = REGION_CITIES + NATIONAL_CITIES
    city_area = np.array([c[4] for c in cities])
    all_areas = np.unique(city_area)
    hh_area = city_area[addresses["city"]]
    home = np.where(rng.random(H) < LANDLINE_P, _phone_numbers(rng, hh_area), -1)
    p_area = np.where(rng.random(P) < 0.8, hh_area[hh], rng.choice(all_areas, P))
    mob_p = np.where(age >= 18, MOBILE_ADULT_P, np.where(age >= 13, MOBILE_TEEN_P, 0.0))
    mobile = np.where(rng.random(P) < mob_p, _phone_numbers(rng, p_area), -1)
    home_p = home[hh]
    household_contact = np.where(home_p > 0, home_p, mobile[anchor])
    sp_idx = hh_spouse[hh]
    spouse_mobile = np.where(sp_idx >= 0, mobile[np.maximum(sp_idx, 0)], -1)
    household_contact = np.where(household_contact > 0, household_contact, spouse_mobile)
    minor = (age < 18) | tw_all | nb
    phone = np.where(minor, household_contact, np.where(mobile > 0, mobile, home_p))
    phone_alt = np.where(minor, np.where(mobile > 0, mobile, -1), np.where((mobile > 0) & (home_p > 0), home_p, -1))
    # a newborn is reached through its mother; twins always give the household's number
    nbi = np.flatnonzero(nb)
    phone[nbi] = phone[partner[nbi]]
    phone_alt[nbi] = home_p[nbi]
    phone_alt[tw_all] = -1
    phone_alt = np.where(phone_alt == phone, -1, phone_alt)

    return _Pop(hh=hh, role=role, hh_kind=hh_kind, anchor=anchor, partner=partner, group=group,
                sex=sex, age=age, dob=dob, first=first, middle=middle, last=last, maiden=maiden,
                suffix=suffix, ssn=ssn, phone=phone, phone_alt=phone_alt, email=_obj(P),
                addr=hh.copy(), category=np.full(P, -1, dtype=np.int8),
                n_records=np.zeros(P, dtype=np.int64), old_last=_obj(P),
                change_at=np.full(P, 99, dtype=np.int64), new_addr=np.full(P, -1),
                new_phone=np.full(P, -1, dtype=np.int64), newborn_ssn=newborn_ssn,
                addresses=addresses)


def _email_local(first: str, last: str, style: float, num: int) -> str:
    f = "".join(c for c in _ascii(first).lower() if c.isalnum())
    l_ = "".join(c for c in _ascii(last).lower() if c.isalnum())
    if style < 0.3:
        return f"{f}.{l_}"
    if style < 0.5:
        return f"{f}{l_}{num % 100}"
    if style < 0.65:
        return f"{f[:1]}{l_}"
    if style < 0.75:
        return f"{f}_{l_}{1950 + num % 60}"
    if style < 0.85:
        return f"{l_}.{f}"
    return f"{f}{num}"


def _assign_cases(rng: np.random.Generator, pop: _Pop) -> None:
    """Categories, record counts, surname changes, moves, e-mail addresses."""
    P = len(pop.hh)
    role = pop.role
    cat = pop.category
    cat[(role == TWIN_A) | (role == TWIN_B)] = C_TWIN
    cat[(role == SR) | (role == JR)] = C_JR_SR
    cat[(role == MOTHER) | (role == NEWBORN)] = C_NEWBORN

    free = cat < 0
    adult = pop.age >= 20
    w = np.where(free & adult, np.where(pop.sex == 1, 5.5, 1.0), 0.0)
    nc = _sample_weighted(rng, w, round(NAME_CHANGE_RATE * P))
    cat[nc] = C_NAME_CHANGE
    w = np.where((cat < 0) & (pop.age >= 16), 1.0, 0.0)
    mv = _sample_weighted(rng, w, round(MOVE_RATE * P))
    cat[mv] = C_MOVE
    w = np.where(cat < 0, 1.0, 0.0)
    ph = _sample_weighted(rng, w, round(PLACEHOLDER_SSN_RATE * P))
    cat[ph] = C_PLACEHOLDER
    # household: remaining members sharing surname and address with another member
    key = pd.DataFrame({"h": pop.hh, "l": pop.last})
    shared = key.groupby(["h", "l"], sort=False)["l"].transform("size").to_numpy() > 1
    cat[(cat < 0) & shared] = C_HOUSEHOLD

    # record counts
    k = np.arange(1, 5)
    n = rng.choice(k, P, p=RECORDS_PER_PERSON_P)
    forced = (cat == C_NAME_CHANGE) | (cat == C_MOVE)
    n[forced] = rng.choice(k, int(forced.sum()), p=RECORDS_FORCED_P)
    nbm = role == NEWBORN
    n[nbm] = rng.choice(k, int(nbm.sum()), p=RECORDS_NEWBORN_P)
    pop.n_records[:] = n
    change = np.flatnonzero(forced)
    pop.change_at[change] = 1 + (rng.random(len(change)) * (n[change] - 1)).astype(np.int64)

    # surname changes: earlier records carry the old surname
    r = rng.random((len(nc), 2))
    new_names = _surnames(rng, pop.group[nc])
    for j, p in enumerate(nc):
        cur, maiden = pop.last[p], pop.maiden[p]
        if maiden:                            # married woman: maiden name before, married after
            pop.old_last[p] = maiden
            if r[j, 0] < 0.2:
                pop.last[p] = f"{maiden}-{cur}"
        elif r[j, 1] < 0.25:                   # took a hyphenated name
            pop.old_last[p] = cur
            pop.last[p] = f"{cur}-{new_names[j]}"
        else:                                  # new surname (marriage, divorce, adoption)
            pop.old_last[p] = cur
            pop.last[p] = new_names[j]

    # moves: a new address (often in the same city) and often a new phone
    addr = pop.addresses
    H = len(addr["city"])
    same_city = np.where(rng.random(len(mv)) < 0.6, addr["city"][pop.hh[mv]], -1)
    new = _region_address_table(rng, len(mv), same_city=same_city, allow_buildings=False)
    for col in addr:
        addr[col] = np.concatenate([addr[col], new[col]])
    pop.new_addr[mv] = H + np.arange(len(mv))
    cities = REGION_CITIES + NATIONAL_CITIES
    area = np.array([c[4] for c in cities])[new["city"]]
    pop.new_phone[mv] = np.where(rng.random(len(mv)) < 0.7, _phone_numbers(rng, area), pop.phone[mv])

    # e-mail addresses (adults; some children use a parent's)
    has = np.flatnonzero((pop.age >= 18) & (rng.random(P) < EMAIL_ADULT_P))
    styles = rng.random(len(has))
    nums = rng.integers(1, 1000, len(has))
    dw = np.array([d[1] for d in EMAIL_DOMAINS])
    doms = _pick(rng, [d[0] for d in EMAIL_DOMAINS], len(has), dw / dw.sum())
    surname_then = np.where(pop.old_last[has] != "", pop.old_last[has], pop.last[has])
    pop.email[has] = [f"{_email_local(f, l_, s, m)}@{d}"
                      for f, l_, s, m, d in zip(pop.first[has], surname_then, styles, nums, doms)]
    kids = np.flatnonzero((pop.age < 18) & (rng.random(P) < CHILD_USES_PARENT_EMAIL_P))
    pop.email[kids] = pop.email[pop.anchor[kids]]


def _cut(rng: np.random.Generator, pop: _Pop, n_records: int) -> np.ndarray:
    """Persons to keep so that records total exactly n_records (whole households, then singles)."""
    H = len(pop.hh_kind)
    per_hh = np.bincount(pop.hh, weights=pop.n_records, minlength=H).astype(np.int64)
    cum = np.cumsum(per_hh)
    k = int(np.searchsorted(cum, n_records, side="right"))
    keep_hh = np.zeros(H, dtype=bool)
    keep_hh[:k] = True
    remaining = n_records - (int(cum[k - 1]) if k else 0)
    if remaining:
        size = np.bincount(pop.hh, minlength=H)
        plain = np.zeros(H, dtype=bool)
        plain[pop.hh[pop.category < 0]] = True
        plain &= pop.hh_kind == 0
        cand = np.flatnonzero(plain & (size == 1) & ~keep_hh)[:remaining]
        if len(cand) < remaining:
            raise RuntimeError("not enough spare persons to fill the record count")
        keep_hh[cand] = True
        people = np.flatnonzero(np.isin(pop.hh, cand))
        pop.n_records[people] = 1
    return np.flatnonzero(keep_hh[pop.hh])


# =============================================================================================
# Records
# =============================================================================================


def _source_table(n_sources: int) -> list[dict]:
    out = []
    for i in range(n_sources):
        t = dict(SOURCE_TEMPLATES[i % len(SOURCE_TEMPLATES)])
        rnd = i // len(SOURCE_TEMPLATES)
        if rnd:
            t["name"] = f"{t['name']}_{rnd + 1}"
            t["weight"] = t["weight"] * 0.6 ** rnd
        out.append(t)
    return out


def _fmt_dates(y: np.ndarray, m: np.ndarray, d: np.ndarray, style: str) -> list[str]:
    if style == "iso":
        return [f"{a:04d}-{b:02d}-{c:02d}" for a, b, c in zip(y, m, d)]
    if style == "iso_time":
        return [f"{a:04d}-{b:02d}-{c:02d} 00:00:00" for a, b, c in zip(y, m, d)]
    if style == "us_slash":
        return [f"{b:02d}/{c:02d}/{a:04d}" for a, b, c in zip(y, m, d)]
    if style == "us_slash_nopad":
        return [f"{b}/{c}/{a}" for a, b, c in zip(y, m, d)]
    if style == "ymd":
        return [f"{a:04d}{b:02d}{c:02d}" for a, b, c in zip(y, m, d)]
    if style == "mdy":
        return [f"{b:02d}{c:02d}{a:04d}" for a, b, c in zip(y, m, d)]
    if style == "mon":
        return [f"{MONTHS[b - 1]} {c} {a}" for a, b, c in zip(y, m, d)]
    raise ValueError(style)


def _fmt_ssn(s: str, style: str) -> str:
    if style == "dash":
        return f"{s[:3]}-{s[3:5]}-{s[5:]}"
    if style == "plain":
        return s
    if style == "mask":
        return f"***-**-{s[5:]}"
    if style == "maskx":
        return f"XXX-XX-{s[5:]}"
    raise ValueError(style)


def _fmt_phone(s: str, style: str) -> str:
    a, e, l_ = s[:3], s[3:6], s[6:]
    if style == "paren":
        return f"({a}) {e}-{l_}"
    if style == "paren_nospace":
        return f"({a}){e}-{l_}"
    if style == "dot":
        return f"{a}.{e}.{l_}"
    if style == "dash":
        return f"{a}-{e}-{l_}"
    if style == "e164":
        return f"+1{a}{e}{l_}"
    return s


def _fmt_street(number, direction, street, stype, unit, styles) -> list[str]:
    out = []
    for n, d, s, t, u, st in zip(number, direction, street, stype, unit, styles):
        full, abbr, _ = STREET_TYPES[t]
        if st == 0:
            parts = [str(n), DIRECTIONS[d][0] if d >= 0 else "", STREET_NAMES[s], full,
                     f"Apartment {u}" if u else ""]
        elif st == 1:
            parts = [str(n), DIRECTIONS[d][1] if d >= 0 else "", STREET_NAMES[s], abbr,
                     f"Apt {u}" if u else ""]
        elif st == 2:
            parts = [str(n), DIRECTIONS[d][1] + "." if d >= 0 else "", STREET_NAMES[s],
                     abbr + "." if abbr != "Way" else abbr, f"Apt. {u}" if u else ""]
        elif st == 3:
            parts = [str(n), DIRECTIONS[d][1] if d >= 0 else "", STREET_NAMES[s], abbr,
                     f"#{u}" if u else ""]
        else:
            parts = [str(n), DIRECTIONS[d][1] if d >= 0 else "", STREET_NAMES[s], abbr,
                     f"Unit {u}" if u else ""]
        out.append(" ".join(p for p in parts if p))
    return out


def _render_multiword(name: str, habit: str) -> str:
    """How a source writes hyphenated / multi-word names."""
    if not name or (" " not in name and "-" not in name):
        return name
    if habit == "space":
        return name.replace("-", " ")
    if habit == "concat":
        return name.replace("-", "").replace(" ", "")
    if habit == "drop_second":
        parts = name.replace("-", " ").split(" ")
        if parts[0].lower() in SURNAME_PARTICLES:
            return name
        return parts[0]
    return name


def _render_apostrophe(name: str, habit: str) -> str:
    if "'" not in name:
        return name
    if habit == "drop":
        return name.replace("'", "")
    if habit == "space":
        return name.replace("'", " ")
    return name


def _newborn_first(style: str, sex: int, middle_out: list) -> str:
    word = "Girl" if sex == 1 else "Boy"
    if style == "baby":
        return f"Baby {word}"
    if style == "sex_only":
        return word
    if style == "bg":
        return "BG" if sex == 1 else "BB"
    if style == "infant":
        return f"Infant {word}"
    if style == "baby_middle":
        middle_out.append(word)
        return "Baby"
    raise ValueError(style)


def _records(rng: np.random.Generator, pop: _Pop, keep: np.ndarray, n_sources: int):
    sources = _source_table(n_sources)
    K = len(sources)
    Pk = len(keep)
    counts = pop.n_records[keep]
    rp = np.repeat(keep, counts)                      # person index (into pop) per record
    R = len(rp)
    starts = np.cumsum(counts) - counts
    seq = np.arange(R) - np.repeat(starts, counts)    # chronological index within the person
    role = pop.role[rp]
    cat = pop.category[rp]

    sw = np.array([s["weight"] for s in sources])
    src = rng.choice(K, R, p=sw / sw.sum())
    # a newborn's birth record and one of its mother's records come from the same hospital
    nb_first = np.flatnonzero((role == NEWBORN) & (seq == 0))
    mother = pop.partner[rp[nb_first]]
    pos_in_keep = np.full(len(pop.hh), -1)
    pos_in_keep[keep] = np.arange(Pk)
    m_rec = starts[pos_in_keep[mother]]
    src[nb_first] = src[m_rec]

    # --- true values at the time of each record
    first = pop.first[rp].copy()
    middle = pop.middle[rp].copy()
    last = pop.last[rp].copy()
    suffix = pop.suffix[rp].copy()
    before = seq < pop.change_at[rp]
    nc = (cat == C_NAME_CHANGE)
    last[nc & before] = pop.old_last[rp[nc & before]]
    after_nc = np.flatnonzero(nc & ~before & (pop.maiden[rp] != "") & (rng.random(R) < MAIDEN_AS_MIDDLE_P))
    middle[after_nc] = pop.old_last[rp[after_nc]]
    addr = pop.addr[rp].copy()
    phone = pop.phone[rp].copy()
    alt = (pop.phone_alt[rp] > 0) & (rng.random(R) < ALT_PHONE_P)
    phone[alt] = pop.phone_alt[rp[alt]]
    moved = (cat == C_MOVE) & ~before & (rng.random(R) >= STALE_ADDRESS_P)
    addr[moved] = pop.new_addr[rp[moved]]
    phone[moved] = pop.new_phone[rp[moved]]
    email = pop.email[rp].copy()
    sex = pop.sex[rp].astype(np.int8)
    dob = pop.dob[rp]
    y = dob.astype("datetime64[Y]").astype(np.int64) + 1970
    m = dob.astype("datetime64[M]").astype(np.int64) % 12 + 1
    d = (dob - dob.astype("datetime64[M]")).astype(np.int64) + 1
    ssn = pop.ssn[rp].copy()
    nbr = role == NEWBORN
    ssn[nbr & ((seq == 0) | ~pop.newborn_ssn[rp])] = -1
    placeholder = np.full(R, -1)                       # index into PLACEHOLDER_SSNS
    ph = (cat == C_PLACEHOLDER) & ((rng.random(R) < PLACEHOLDER_SSN_RECORD_P) | (seq == 0))
    own = np.array([PLACEHOLDER_SSNS.index(s["placeholder"]) for s in sources])[src]
    placeholder[ph] = np.where(rng.random(R) < OWN_PLACEHOLDER_P, own, rng.integers(0, len(PLACEHOLDER_SSNS), R))[ph]

    # newborn placeholder names: birth record, mother's surname, no middle name
    nb_style = [s["newborn"] for s in sources]
    extra_mid: list = []
    for i in nb_first:
        extra_mid.clear()
        first[i] = _newborn_first(nb_style[src[i]], int(sex[i]), extra_mid)
        middle[i] = extra_mid[0] if extra_mid else ""
        last[i] = pop.last[pop.partner[rp[i]]]
        suffix[i] = ""

    # --- per-record noise
    sloppy = np.array([s["sloppy"] for s in sources])[src]
    # nicknames
    has_nick = np.fromiter((f in NICKNAMES for f in first), dtype=bool, count=R)
    nk = np.flatnonzero(has_nick & (rng.random(R) < NICKNAME_P))
    u = rng.random(len(nk))
    first[nk] = [NICKNAMES[f][int(x * len(NICKNAMES[f]))] for f, x in zip(first[nk], u)]
    # first/last swapped
    sw_ = np.flatnonzero(rng.random(R) < FIRST_LAST_SWAP_P)
    first[sw_], last[sw_] = last[sw_], first[sw_].copy()
    # typos
    _apply_typos(rng, first, TYPO_P["first_name"] * sloppy)
    _apply_typos(rng, last, TYPO_P["last_name"] * sloppy)
    _apply_typos(rng, middle, TYPO_P["middle_name"] * sloppy)
    _apply_typos(rng, email, TYPO_P["email"] * sloppy)
    # dates: month/day transposed, one-field slips
    swap = (rng.random(R) < DOB_MONTH_DAY_SWAP_P) & (d <= 12) & (d != m)
    m[swap], d[swap] = d[swap], m[swap].copy()
    slip = np.flatnonzero(rng.random(R) < DOB_TYPO_P * sloppy)
    kind = rng.random(len(slip))
    sign = np.where(rng.random(len(slip)) < 0.5, -1, 1)
    dd, mm, yy = d[slip], m[slip], y[slip]
    dd = np.where(kind < 0.5, dd + sign, dd)
    mm = np.where((kind >= 0.5) & (kind < 0.7), np.clip(mm + sign, 1, 12), mm)
    yy = np.where((kind >= 0.7) & (kind < 0.9), yy + sign, yy)
    yy = np.where(kind >= 0.9, yy + 10 * sign, yy)
    dd = np.clip(dd, 1, _days_in_month(yy, mm))
    d[slip], m[slip], y[slip] = dd, mm, yy
    d = np.minimum(d, _days_in_month(y, m))
    # sex: unknown or wrong now and then
    sx = rng.random(R)
    sex = np.where(sx < SEX_UNKNOWN_P, 2, np.where(sx < SEX_UNKNOWN_P + SEX_WRONG_P, 1 - sex, sex))
    # SSN digits slips
    ssn_s = _obj(R)
    has_ssn = np.flatnonzero(ssn > 0)
    ssn_s[has_ssn] = [f"{v:09d}" for v in ssn[has_ssn]]
    hit = has_ssn[rng.random(len(has_ssn)) < SSN_TYPO_P]
    uu = rng.random((len(hit), 3))
    ssn_s[hit] = [_typo(s, 0.0 if a < 0.7 else 0.5, b, c) for s, (a, b, c) in zip(ssn_s[hit], uu)]
    phs = np.flatnonzero(placeholder >= 0)
    ssn_s[phs] = [PLACEHOLDER_SSNS[i] for i in placeholder[phs]]
    # phone slips
    ph_s = _obj(R)
    has_ph = np.flatnonzero(phone > 0)
    ph_s[has_ph] = [f"{v:010d}" for v in phone[has_ph]]
    hit = has_ph[rng.random(len(has_ph)) < PHONE_TYPO_P]
    uu = rng.random((len(hit), 3))
    ph_s[hit] = [s[:3] + _typo(s[3:], 0.0 if a < 0.6 else 0.5, b, c) for s, (a, b, c) in zip(ph_s[hit], uu)]

    # --- formatting by source
    A = pop.addresses
    cities = REGION_CITIES + NATIONAL_CITIES
    out = {c: _obj(R) for c in CONTRACT_COLUMNS}
    out["source"][:] = np.array([s["name"] for s in sources], dtype=object)[src]
    missing_rolls = {f: rng.random(R) for f in ("dob", "sex", "phone", "street", "city", "state",
                                                   "zip", "email", "ssn", "middle_name")}
    case_roll = rng.random(R)
    style_roll = rng.random((R, 2))
    accent_roll = rng.random(R)
    suffix_roll = rng.random(R)
    middle_roll = rng.random(R)
    plus4_roll = rng.random(R)
    for k, s in enumerate(sources):
        ix = np.flatnonzero(src == k)
        if len(ix) == 0:
            continue
        miss = {f: BASE_MISSING_P.get(f, 0.0) + s["miss"].get(f, 0.0) for f in missing_rolls}
        gone = {f: missing_rolls[f][ix] < miss[f] for f in missing_rolls}

        # names
        f_ = first[ix]
        l_ = last[ix]
        mi = middle[ix]
        if s["middle"] == "none":
            mi = _obj(len(ix))
        elif s["middle"] == "initial":
            mi = np.array([v[:1] for v in mi], dtype=object)
        elif s["middle"] == "mixed":
            mr = middle_roll[ix]
            mi = np.array([v if r < 0.5 else (v[:1] if r < 0.8 else "") for v, r in zip(mi, mr)],
                          dtype=object)
        mi[gone["middle_name"]] = ""
        hyph, apos = s["hyphen"], s["apostrophe"]
        l_ = _map_unique(l_, lambda v: _render_apostrophe(_render_multiword(v, hyph), apos))
        f_ = _map_unique(f_, lambda v: _render_multiword(v, "space" if hyph == "drop_second" else hyph))
        sf = suffix[ix]
        capture = suffix_roll[ix] < s["suffix_capture"] * np.where(role[ix] == SR, 0.5, 1.0)
        sf = np.where(capture, sf, "")
        sr = style_roll[ix, 1]
        sf = np.array([v + "." if (v in ("Jr", "Sr") and r >= 0.6) else v for v, r in zip(sf, sr)],
                      dtype=object)
        if s["suffix"] == "in_last":          # "Smith Jr" in the surname field
            l_ = np.array([f"{a} {b}" if b else a for a, b in zip(l_, sf)], dtype=object)
            sf = _obj(len(ix))
        elif s["suffix"] == "drop":
            sf = _obj(len(ix))
        # accents: a share of records lose them
        strip = accent_roll[ix] >= s["accents"]
        for arr in (f_, l_, mi):
            sel = np.flatnonzero(strip)
            arr[sel] = _map_unique(arr[sel], _ascii)

        # dob / sex / ids
        dob_s = np.array(_fmt_dates(y[ix], m[ix], d[ix], s["dob"]), dtype=object)
        dob_s[gone["dob"]] = ""
        codes = np.array(list(s["sex"]), dtype=object)
        sex_s = codes[sex[ix]]
        sex_s[gone["sex"]] = ""
        ss = ssn_s[ix]
        sel = np.flatnonzero(ss != "")
        ss[sel] = [_fmt_ssn(v, s["ssn"]) for v in ss[sel]]
        keep_ph = placeholder[ix] >= 0                  # placeholders are what the source sends
        ss[gone["ssn"] & ~keep_ph] = ""
        pp = ph_s[ix]
        sel = np.flatnonzero(pp != "")
        pp[sel] = [_fmt_phone(v, s["phone"]) for v in pp[sel]]
        pp[gone["phone"]] = ""
        em = email[ix].copy()
        em[gone["email"]] = ""

        # address
        a = addr[ix]
        st_style = np.where(style_roll[ix, 0] < 0.85, s["addr"], (style_roll[ix, 0] * 100).astype(int) % 5)
        street = np.array(_fmt_street(A["number"][a], A["direction"][a], A["street"][a],
                                      A["stype"][a], A["unit"][a], st_style), dtype=object)
        street[gone["street"]] = ""
        city = np.array([c[0] for c in cities], dtype=object)[A["city"][a]]
        city[gone["city"]] = ""
        st_abbr = np.array([c[1] for c in cities], dtype=object)[A["city"][a]]
        if s["state"] == "full":
            st_full = np.array([STATES[v] for v in st_abbr], dtype=object)
            st_abbr = np.where(style_roll[ix, 1] < 0.5, st_full, st_abbr)
        st_abbr[gone["state"]] = ""
        z = A["zip"][a]
        if s["zip"] == "int":
            zs = np.array([str(v) for v in z], dtype=object)
        elif s["zip"] == "zip4":
            p4 = (a * 7919 + 1234) % 10_000
            zs = np.array([f"{v:05d}-{q:04d}" if r < 0.4 else f"{v:05d}"
                           for v, q, r in zip(z, p4, plus4_roll[ix])], dtype=object)
        else:
            zs = np.array([f"{v:05d}" for v in z], dtype=object)
        zs[gone["zip"]] = ""

        # casing
        cr = case_roll[ix]
        if s["case"] == "upper":
            up, low = np.ones(len(ix), bool), np.zeros(len(ix), bool)
        elif s["case"] == "mixed":
            up, low = cr < 0.2, (cr >= 0.2) & (cr < 0.3)
        elif s["case"] == "sloppy":
            up, low = cr < 0.2, (cr >= 0.2) & (cr < 0.7)
        else:
            up, low = cr < 0.02, (cr >= 0.02) & (cr < 0.03)
        cols = {"first_name": f_, "middle_name": mi, "last_name": l_, "suffix": sf,
                "street": street, "city": city, "email": em}
        for name, arr in cols.items():
            for mask, fn in ((up, str.upper), (low, str.lower)):
                sel = np.flatnonzero(mask)
                if len(sel) and not (name == "email" and fn is str.lower):
                    arr[sel] = _map_unique(arr[sel], fn)
        st_abbr[np.flatnonzero(up)] = _map_unique(st_abbr[up], str.upper)

        out["first_name"][ix] = f_
        out["middle_name"][ix] = mi
        out["last_name"][ix] = l_
        out["suffix"][ix] = sf
        out["dob"][ix] = dob_s
        out["sex"][ix] = sex_s
        out["ssn"][ix] = ss
        out["phone"][ix] = pp
        out["email"][ix] = em
        out["street"][ix] = street
        out["city"][ix] = city
        out["state"][ix] = st_abbr
        out["zip"][ix] = zs

    # typos in address text; stray spaces and punctuation
    _apply_typos(rng, out["street"], TYPO_P["street"] * sloppy)
    _apply_typos(rng, out["city"], TYPO_P["city"] * sloppy)
    fields = ["first_name", "last_name", "middle_name", "street", "city"]
    hit = np.flatnonzero(rng.random(R) < STRAY_SPACE_P)
    which = rng.integers(0, len(fields), len(hit))
    how = rng.random(len(hit))
    for fi, fname in enumerate(fields):
        sel = hit[which == fi]
        hw = how[which == fi]
        vals = out[fname][sel]
        out[fname][sel] = [_stray_space(v, h) for v, h in zip(vals, hw)]
    hit = np.flatnonzero(rng.random(R) < STRAY_PUNCT_P)
    which = rng.integers(0, 3, len(hit))
    for fi, fname in enumerate(("first_name", "last_name", "street")):
        sel = hit[which == fi]
        out[fname][sel] = [v + ("." if i % 2 else ",") if v else v for i, v in enumerate(out[fname][sel])]

    # --- shuffle rows; record ids per source in row order
    order = rng.permutation(R)
    rec = pd.DataFrame({c: out[c][order] for c in CONTRACT_COLUMNS if c != "record_id"})
    src_o = src[order]
    num = pd.Series(src_o).groupby(src_o).cumcount().to_numpy() + 1
    ids = [f"{s}:{n:07d}" for s, n in zip(rec["source"].to_numpy(), num)]
    rec.insert(0, "record_id", ids)
    return rec, rp[order]


# =============================================================================================
# Public API
# =============================================================================================


@dataclass
class Synthetic:
    records: pd.DataFrame       # contract columns
    truth: pd.DataFrame         # record_id, person_id, category
    people: pd.DataFrame        # one row per person: true attributes, household, look-alike


def simulate(n_records: int, seed: int = 0, n_sources: int = 5) -> Synthetic:
    """Generate the data set and also return the person table (true values, for tests)."""
    if n_records < 1:
        raise ValueError("n_records must be positive")
    if n_sources < 1:
        raise ValueError("n_sources must be positive")
    rng = np.random.default_rng(seed)
    mean_records = float(np.arange(1, 5) @ np.array(RECORDS_PER_PERSON_P))
    n_persons = int(n_records / mean_records * 1.15) + 80
    pop = _population(rng, n_persons)
    _assign_cases(rng, pop)
    keep = _cut(rng, pop, n_records)
    rec, rp = _records(rng, pop, keep, n_sources)

    # person ids: random numbers, not in household order
    P = len(pop.hh)
    pid_num = np.zeros(P, dtype=np.int64)
    pid_num[keep] = rng.permutation(len(keep)) + 1
    width = max(6, len(str(len(keep))))
    pid = np.array([f"P{v:0{width}d}" for v in pid_num], dtype=object)
    cat_names = np.array(list(CATEGORIES) + [""], dtype=object)   # -1 -> ""
    truth = pd.DataFrame({"record_id": rec["record_id"].to_numpy(), "person_id": pid[rp],
                          "category": cat_names[pop.category[rp]]})

    hh_num = np.zeros(len(pop.hh_kind), dtype=np.int64)
    kept_hh = np.unique(pop.hh[keep])
    hh_num[kept_hh] = np.arange(1, len(kept_hh) + 1)
    partner = pop.partner[keep]
    people = pd.DataFrame({
        "person_id": pid[keep], "household_id": hh_num[pop.hh[keep]],
        "role": np.array(ROLE_NAMES, dtype=object)[pop.role[keep]],
        "first_name": pop.first[keep], "middle_name": pop.middle[keep],
        "last_name": pop.last[keep], "previous_last_name": pop.old_last[keep],
        "suffix": pop.suffix[keep], "dob": pop.dob[keep].astype(str),
        "sex": np.where(pop.sex[keep] == 1, "F", "M"),
        "ssn": [f"{v:09d}" if v > 0 else "" for v in pop.ssn[keep]],
        "category": cat_names[pop.category[keep]],
        "lookalike_id": np.where(partner >= 0, pid[np.maximum(partner, 0)], ""),
        "n_records": pop.n_records[keep],
    })
    return Synthetic(records=rec, truth=truth, people=people)


def generate(n_records: int, seed: int = 0, n_sources: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(records, truth): records in the contract columns, truth as record_id,person_id,category."""
    s = simulate(n_records, seed=seed, n_sources=n_sources)
    return s.records, s.truth


def write(out_dir: str, records: pd.DataFrame, truth: pd.DataFrame) -> None:
    os.makedirs(out_dir, exist_ok=True)
    for name, df in (("records.csv", records), ("truth.csv", truth)):
        path = os.path.join(out_dir, name)
        tmp = path + ".tmp"
        df.to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n")
        os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir")
    ap.add_argument("--records", type=int, default=10_000, help="number of records (exact)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sources", type=int, default=5, help="number of source systems")
    a = ap.parse_args(argv)
    if a.records < 1 or a.sources < 1:
        ap.error("--records and --sources must be positive")
    t0 = time.perf_counter()
    records, truth = generate(a.records, seed=a.seed, n_sources=a.sources)
    t1 = time.perf_counter()
    write(a.out_dir, records, truth)
    t2 = time.perf_counter()
    cats = truth["category"].replace("", "(none)").value_counts()
    print(f"{len(records)} records, {truth['person_id'].nunique()} persons, "
          f"{records['source'].nunique()} sources -> {a.out_dir} "
          f"(generate {t1 - t0:.1f}s, write {t2 - t1:.1f}s)", file=sys.stderr)
    for c, n in cats.items():
        print(f"  {c:<16} {n:>9} records ({100 * n / len(truth):.1f}%)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
